"""Every answer of the FAQ appendix links to the book, and every link resolves."""
from __future__ import annotations

import re

from test_errata import CHAPTERS, DOC, REF, broken_links, labels_in, markdown_of, myst_labels, role_target

FAQ = CHAPTERS / "appendix-faq.md"


def questions(text: str) -> dict[str, str]:
    """Each ``###`` question of the FAQ with its answer: the text up to the next heading."""
    parts = re.split(r"^(#{1,3} .*)$", text, flags=re.MULTILINE)
    found = {}
    for heading, body in zip(parts[1::2], parts[2::2]):
        if heading.startswith("### "):
            found[heading[4:].strip()] = body
    return found


def test_questions_are_split_at_headings():
    text = "# FAQ\n\nIntro.\n\n## Group\n\n### One?\n\nA {ref}`x`.\n\n### Two?\n\nB.\n\n## Next\n\nC.\n"
    assert questions(text) == {"One?": "\n\nA {ref}`x`.\n\n", "Two?": "\n\nB.\n\n"}


def test_the_sources_questions_are_merged_not_copied():
    # The four sources asked 18 questions between them; the syllabus asks for about ten to
    # fourteen merged ones.
    assert 10 <= len(questions(FAQ.read_text(encoding="utf-8"))) <= 14


def test_every_answer_links_to_a_cell_in_the_book():
    labels = myst_labels()
    for question, answer in questions(FAQ.read_text(encoding="utf-8")).items():
        assert question.endswith(("?", "？)", ")")), f"not a question: {question}"
        assert REF.search(answer), f"no {{ref}} link in the answer to: {question}"
        bad = broken_links(answer, labels)
        assert not bad, f"{question}: links that do not resolve: {bad}"


def test_every_link_on_the_page_resolves():
    bad = broken_links(FAQ.read_text(encoding="utf-8"), myst_labels())
    assert not bad, "links to labels or pages that do not exist:\n" + "\n".join(bad)


def test_part_iv_chapters_are_linked():
    # Applications, trends, careers and study: the answers point to chapters 12 to 15, to the page
    # and to at least one labelled cell of each.
    text = FAQ.read_text(encoding="utf-8")
    docs = {role_target(c) for c in DOC.findall(text)}
    refs = {role_target(c) for c in REF.findall(text)}
    for page in ("12-applications", "13-trends", "14-careers", "15-tools"):
        assert page in docs, f"the FAQ does not link {page}"
        own = set(labels_in(markdown_of(CHAPTERS / f"{page}.ipynb")))
        assert refs & own, f"the FAQ links no labelled cell of {page}"
