"""The errata appendix covers every listing and every M- and F-item, and every link in it resolves.

The scanner for the book's cross-reference targets lives here, once: ``myst_labels`` finds every
MyST label ``(name)=`` in the Markdown of the chapters and ``intro.md``, and ``broken_links``
lists the ``{ref}`` and ``{doc}`` roles of a page whose target does not exist. tests/test_faq.py
imports both.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
ERRATA = CHAPTERS / "appendix-errata.md"

LABEL = re.compile(r"^\(([^()\s]+)\)=[ \t]*$", re.MULTILINE)
REF = re.compile(r"\{ref\}`([^`]*)`")
DOC = re.compile(r"\{doc\}`([^`]*)`")
ID = re.compile(r"^(?:L\d{2}|[MF]-\d{2})$")

EXPECTED_IDS = ([f"L{i:02d}" for i in range(1, 16)] + [f"M-{i:02d}" for i in range(1, 27)]
                + [f"F-{i:02d}" for i in range(1, 35)])


def markdown_of(path: Path) -> str:
    """The Markdown of a page: a .md file whole, or the Markdown cells of a notebook."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def book_pages() -> list[Path]:
    return sorted(CHAPTERS.glob("*.ipynb")) + sorted(CHAPTERS.glob("*.md")) + [ROOT / "intro.md"]


def labels_in(text: str) -> list[str]:
    """The MyST labels ``(name)=`` in a piece of Markdown, each alone on its line."""
    return LABEL.findall(text)


def myst_labels() -> dict[str, list[str]]:
    """Every MyST label of the book, with the pages that define it."""
    found: dict[str, list[str]] = {}
    for path in book_pages():
        for name in labels_in(markdown_of(path)):
            found.setdefault(name, []).append(path.name)
    return found


def role_target(content: str) -> str:
    """The target of a role's content: ``text <target>`` or a bare ``target``."""
    m = re.search(r"<([^<>]+)>\s*$", content)
    return (m.group(1) if m else content).strip()


def doc_exists(target: str, page_dir: Path = CHAPTERS) -> bool:
    """Whether a ``{doc}`` target names a page: relative to the page's folder, or to the root."""
    base = ROOT / target.lstrip("/") if target.startswith("/") else page_dir / target
    return any(base.with_name(base.name + suffix).is_file() for suffix in ("", ".md", ".ipynb"))


def broken_links(text: str, labels, page_dir: Path = CHAPTERS) -> list[str]:
    """The ``{ref}`` roles whose label is not in ``labels`` and the ``{doc}`` roles whose page is
    missing, as they are written in ``text``."""
    bad = [f"{{ref}}`{c}`" for c in REF.findall(text) if role_target(c) not in labels]
    bad += [f"{{doc}}`{c}`" for c in DOC.findall(text) if not doc_exists(role_target(c), page_dir)]
    return bad


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the Markdown tables in ``text``, as lists of cells (headers and the
    ``|---|`` lines left out)."""
    rows = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            continue
        if re.fullmatch(r"\|(\s*:?-+:?\s*\|)+\s*", line):
            continue
        if i + 1 < len(lines) and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+\s*", lines[i + 1]):
            continue                                        # a header row
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def row_ids(row: list[str]) -> list[str]:
    return [part.strip() for part in row[0].split(",")]


# The scanner itself, on made-up pages.

def test_labels_are_found_alone_on_their_line_only():
    text = "(ch99-fix-m01)=\n### A heading\n\nSee (not-a-label)= in prose.\n  (indented)=\n(ok_2)=  \n"
    assert labels_in(text) == ["ch99-fix-m01", "ok_2"]


def test_notebook_labels_come_from_markdown_cells_only(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "source": ["(ch99-md)=\n", "# Title\n"]},
                    {"cell_type": "code", "source": ["(ch99-code)=\n"], "outputs": []}]}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert labels_in(markdown_of(path)) == ["ch99-md"]


def test_broken_links_finds_missing_labels_and_pages():
    text = ("{ref}`Chapter 4 <ch04-fix-m01>`, {ref}`nowhere <ch99-missing>`, {ref}`bare-label`,\n"
            "{doc}`the errata <appendix-errata>`, {doc}`12-applications`, {doc}`gone <no-such-page>`")
    assert broken_links(text, {"ch04-fix-m01"}) == [
        "{ref}`nowhere <ch99-missing>`", "{ref}`bare-label`", "{doc}`gone <no-such-page>`"]


def test_table_rows_skip_headers_and_rules():
    text = "| ID | a |\n|---|---|\n| L01 | x |\n| M-21, F-30 | y |\n\nprose | not a row\n"
    assert [row_ids(r) for r in table_rows(text)] == [["L01"], ["M-21", "F-30"]]


# The errata appendix.

def errata_rows() -> list[list[str]]:
    return table_rows(ERRATA.read_text(encoding="utf-8"))


def test_every_item_has_exactly_one_row():
    ids = [i for row in errata_rows() for i in row_ids(row)]
    malformed = [i for i in ids if not ID.match(i)]
    assert not malformed, f"row ids that are not L01, M-01 or F-01 style: {malformed}"
    missing = [i for i in EXPECTED_IDS if i not in ids]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    unknown = sorted(set(ids) - set(EXPECTED_IDS))
    assert not missing, f"errata items without a row: {missing}"
    assert not repeated, f"errata items with more than one row: {repeated}"
    assert not unknown, f"rows for items the syllabus does not have: {unknown}"


def test_every_row_explains_and_links():
    for row in errata_rows():
        assert len(row) == 4, f"{row[0]}: expected 4 cells, got {len(row)}"
        assert all(len(cell) > 10 for cell in row[1:3]), f"{row[0]}: an empty description"
        line = " | ".join(row)
        assert REF.search(line) or DOC.search(line), f"{row[0]}: no {{ref}} or {{doc}} link"


def test_every_link_in_the_errata_resolves():
    bad = broken_links(ERRATA.read_text(encoding="utf-8"), myst_labels())
    assert not bad, "links to labels or pages that do not exist:\n" + "\n".join(bad)


def test_labels_are_unique():
    twice = {name: pages for name, pages in myst_labels().items() if len(pages) > 1}
    assert not twice, f"labels defined more than once: {twice}"


# The F-items that chapters 12 to 15 fix: each row links to the chapter's label, and every number
# the row states also appears in that chapter's Markdown, so the appendix cannot drift from it.

PART_IV_FIXES = {
    "F-01": ("14-careers", "ch14-fix-f01"),
    "F-10": ("15-tools", "ch15-fix-f10"),
    "F-11": ("15-tools", "ch15-fix-f11"),
    "F-13": ("12-applications", "ch12-fix-f13"),
    "F-27": ("14-careers", "ch14-fix-f27"),
    "F-28": ("13-trends", "ch13-fix-f28"),
    "F-32": ("14-careers", "ch14-fix-f32"),
    "F-33": ("14-careers", "ch14-fix-f33"),
}
NUMBER_TOKEN = re.compile(r"\d+(?:[.,]\d+)*")
ROLE = re.compile(r"\{(?:cite|ref|doc)(?::[a-z]+)?\}`[^`]*`")


def numbers_in(text: str) -> set[str]:
    return set(NUMBER_TOKEN.findall(ROLE.sub(" ", text)))


def test_numbers_in_row_are_found_in_the_chapter_text():
    assert numbers_in("rose 78 % in 2024 {cite}`maslej2025aiindex` to 8,930 t, {ref}`x <ch13-fix-f28>`") == {
        "78", "2024", "8,930"}


def test_part_iv_rows_link_their_chapter_and_agree_with_its_numbers():
    rows = {row_ids(row)[0]: row for row in errata_rows()}
    for item, (page, label) in PART_IV_FIXES.items():
        row = rows[item]
        targets = {role_target(c) for c in REF.findall(row[3])}
        assert label in targets, f"{item}: the row does not link {label}"
        chapter = markdown_of(CHAPTERS / f"{page}.ipynb")
        missing = sorted(n for n in numbers_in(row[2]) if n not in chapter)
        assert not missing, f"{item}: numbers in the errata row that chapter {page} does not state: {missing}"
