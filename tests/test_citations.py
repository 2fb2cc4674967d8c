"""Every citation resolves, and every number in the prose of chapters 12 to 14 is cited.

Chapters 12 to 14 (applications, trends, careers) state facts about the world rather than
results the book computes, so each paragraph (or table row) of their Markdown that contains a
number must also contain a ``{cite}`` role. Numbers in code, in math (``$...$``), in MyST roles
and labels, and references to the book's own chapters, parts and errata items are allowed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CITED_CHAPTERS = ("12-applications", "13-trends", "14-careers")

CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")
BIB_KEY = re.compile(r"^@\w+\{([^,\s]+),", re.MULTILINE)
NUMBER = re.compile(r"\d")

# Removed before looking for digits: what is code, math, markup or a pointer into the book.
NOT_PROSE = [
    re.compile(r"```.*?```", re.DOTALL),                    # fenced code and directive headers
    re.compile(r"\$\$.*?\$\$", re.DOTALL),                  # display math
    re.compile(r"\$[^$\n]+\$"),                             # inline math
    re.compile(r"`[^`\n]*`"),                               # inline code and role contents
    re.compile(r"<!--.*?-->", re.DOTALL),                   # comments
    re.compile(r"\]\([^)]*\)"),                             # link targets
    re.compile(r"^\([\w-]+\)=\s*$", re.MULTILINE),          # MyST labels
    re.compile(r"^:[\w-]+:.*$", re.MULTILINE),              # directive options (:label:, :class:)
    re.compile(r"\b[LMF]-?\d{2}\b"),                        # errata ids: L05, M-13, F-27
    re.compile(r"\b(?:[Cc]hapters?|Ch\.|[Pp]arts?|[Ss]ections?|§|[Ff]igures?|[Ee]xercises?|"
               r"[Aa]ppendi(?:x|ces)|[Qq]uestions?|Q)\s*\d+(?:\.\d+)*"
               r"(?:\s*(?:,|–|-|to|and|or)\s*\d+(?:\.\d+)*)*"),
]


def markdown_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks, with each table row and each heading a block of its own."""
    blocks = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.splitlines()
        if any(line.lstrip().startswith(("|", "#")) for line in lines):
            blocks.extend(lines)
        else:
            blocks.append(block)
    return [b for b in blocks if b.strip()]


def uncited_numbers(text: str) -> list[str]:
    """The paragraphs of ``text`` that contain a digit in their prose but no citation."""
    for pattern in NOT_PROSE[:2]:       # fenced blocks and display math may span paragraphs
        text = pattern.sub(lambda m: "\n" * m.group(0).count("\n") if "\n\n" in m.group(0)
                           else " ", text)
    bad = []
    for para in paragraphs(text):
        if CITE.search(para):
            continue
        prose = para
        for pattern in NOT_PROSE:
            prose = pattern.sub(" ", prose)
        if NUMBER.search(prose):
            bad.append(para.strip())
    return bad


def pages() -> list[Path]:
    return sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "chapters").glob("*.md")) \
        + [ROOT / "intro.md"]


def test_the_scanner_finds_an_uncited_number_and_allows_the_rest():
    text = ("Robotaxis served 150,000 rides a week.\n\n"
            "Robotaxis served 150,000 rides a week {cite}`maslej2025aiindex`.\n\n"
            "Chapter 5 trains a CNN; see also chapters 7 and 9, Part IV and errata F-13.\n\n"
            "The estimate is $C = 6NT = 6 \\times 10^{9}$, from `params = 7e9`.\n\n"
            "```python\nx = 42\n```\n\n"
            "| role | growth |\n|---|---|\n| data scientist | 34 % {cite}`bls2025datascientists` |\n"
            "| engineer | 12 % |\n")
    assert uncited_numbers(text) == ["Robotaxis served 150,000 rides a week.", "| engineer | 12 % |"]


@pytest.mark.parametrize("name", CITED_CHAPTERS)
def test_every_number_in_the_prose_is_cited(name):
    path = ROOT / "chapters" / f"{name}.ipynb"
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    bad = uncited_numbers(markdown_of(path))
    assert not bad, "paragraphs with a number but no {cite}:\n\n" + "\n\n".join(bad)


def test_every_citation_resolves():
    keys = set(BIB_KEY.findall((ROOT / "references.bib").read_text(encoding="utf-8")))
    missing = {}
    for path in pages():
        for group in CITE.findall(markdown_of(path)):
            for key in (k.strip() for k in group.split(",")):
                if key not in keys:
                    missing.setdefault(key, set()).add(path.name)
    assert not missing, f"citation keys not in references.bib: {missing}"


def test_bibliography_keys_are_unique():
    keys = BIB_KEY.findall((ROOT / "references.bib").read_text(encoding="utf-8"))
    assert len(keys) == len(set(keys)), sorted(k for k in set(keys) if keys.count(k) > 1)
