"""The glossary appendix and the chapters' term marks agree.

A chapter marks a key term the first time it uses it as bold English with the Chinese in
parentheses (CONTRIBUTING.md): ``**backpropagation (反向传播)**``. The parentheses may be
full-width, and besides the Chinese they may hold an abbreviation, ``**machine learning
(机器学习, ML)**``. Every such mark needs a row in chapters/appendix-glossary.md, and every row
needs a mark.

The glossary's tables have four columns: English | 中文 | Definition | First chapter.
Alias convention of the English column: a cell may list several names separated by commas,
``backbone, head``; a name may end in parentheses holding an abbreviation or another name,
``machine learning (ML)``, and then the name with and without them and the part in parentheses
all match (``machine learning``, ``ML``). Names are compared without backticks, case, extra
spaces or a leading article, and a final ``s``/``es`` is ignored (``tokens`` finds ``token``).
A mark's Chinese must occur in the row's Chinese (which may list several terms).
The First chapter column is a ``{doc}`` link to the page of the term's earliest mark, in the
order of ``_toc.yml``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tools.notebooks import toc_files

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "chapters" / "appendix-glossary.md"

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAS_CJK = re.compile(f"[{CJK}]")
BOLD = re.compile(r"\*\*(?=\S)((?:(?!\n\s*\n).)+?)(?<=\S)\*\*", re.DOTALL)   # within a paragraph
FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
# Bold text that ends in parentheses holding Chinese, before an optional run-in "." or ":".
MARK = re.compile(rf"^(?P<en>[^{CJK}]+?)\s*[(（](?P<zh>[^()（）]*[{CJK}][^()（）]*)[)）]\s*[.:]?$",
                  re.DOTALL)
DOC = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`")
ARTICLE = re.compile(r"^(?:the|a|an)\s+")


@dataclass
class Mark:
    english: str              # as written, e.g. "Machine learning"
    chinese: list[str]        # the Chinese item(s) in the parentheses
    aliases: list[str]        # abbreviations in the parentheses, e.g. ["ML"]
    page: str                 # toc path, e.g. "chapters/01-landscape"
    where: str                # for messages: "chapters/01-landscape.ipynb, Markdown cell 3"

    def names(self) -> set[str]:
        return names_of(self.english) | {key(a) for a in self.aliases}

    def __str__(self) -> str:
        inside = ", ".join(self.chinese + self.aliases)
        return f"**{' '.join(self.english.split())} ({inside})** in {self.where}"


@dataclass
class Row:
    english: str
    chinese: str
    definition: str
    first: str                # the {doc} target, resolved to a toc path ("" if there is none)
    line: int
    marks: list[Mark] = field(default_factory=list)

    def names(self) -> set[str]:
        found = set()
        for name in split_top_level(self.english):
            found |= names_of(name)
        return found

    def __str__(self) -> str:
        return f"glossary row '{self.english}' (line {self.line})"


def key(name: str) -> str:
    """The comparison form of an English name."""
    name = " ".join(name.replace("`", "").replace("*", "").split()).lower()
    name = ARTICLE.sub("", name)
    words = name.split(" ")
    last = words[-1]
    if re.search(r"(?:ches|shes|sses|xes)$", last):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 3:
        last = last[:-1]
    return " ".join(words[:-1] + [last])


def names_of(name: str) -> set[str]:
    """A name, and if it ends in parentheses, the name without them and the part inside."""
    found = {key(name)}
    tail = re.match(r"^(.*\S)\s*\(([^()]+)\)$", " ".join(name.split()))
    if tail:
        found |= {key(tail.group(1)), key(tail.group(2))}
    return found


def split_top_level(cell: str, separators: str = ",") -> list[str]:
    """Split at separators outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in cell:
        if char in "(（":
            depth += 1
        elif char in ")）":
            depth -= 1
        if char in separators and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def chinese_key(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("（", "(").replace("）", ")").lower()


def scanned_pages() -> list[str]:
    """Every page of the table of contents except the appendices and the status page."""
    return [f for f in toc_files(ROOT)
            if not Path(f).name.startswith("appendix-") and Path(f).name != "status"]


def markdown_blocks(page: str) -> list[tuple[str, str]]:
    """(where, Markdown text) for the page's Markdown cells, or for the whole .md file."""
    notebook, text = ROOT / f"{page}.ipynb", ROOT / f"{page}.md"
    if notebook.is_file():
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        return [(f"{page}.ipynb, Markdown cell {i}", "".join(c["source"]))
                for i, c in enumerate(cells) if c["cell_type"] == "markdown"]
    if text.is_file():
        return [(f"{page}.md", text.read_text(encoding="utf-8"))]
    return []


def marks_in(text: str, page: str, where: str) -> tuple[list[Mark], list[str]]:
    """The term marks in ``text``, and bold text mixing English and Chinese without parentheses
    (``**weight sharing, 权值共享**``), which looks like a mark but is not written as one. Bold
    Chinese alone (a word discussed as a word) and bold phrases with several parenthesised
    Chinese glosses are neither."""
    marks, malformed = [], []
    for bold in BOLD.finditer(FENCE.sub("", text)):
        content = bold.group(1).strip()
        if not HAS_CJK.search(content):
            continue
        found = MARK.match(content)
        if found:
            items = [i.strip() for i in re.split(r"[,，]", found.group("zh")) if i.strip()]
            marks.append(Mark(found.group("en").strip(), [i for i in items if HAS_CJK.search(i)],
                              [i for i in items if not HAS_CJK.search(i)], page, where))
        elif re.search("[A-Za-z]", content) and not re.search(rf"[(（][^()（）]*[{CJK}]", content):
            malformed.append(f"**{' '.join(content.split())}** in {where}")
    return marks, malformed


def all_marks() -> tuple[list[Mark], list[str]]:
    marks, malformed = [], []
    for page in scanned_pages():
        for where, text in markdown_blocks(page):
            found, bad = marks_in(text, page, where)
            marks += found
            malformed += bad
    return marks, malformed


def glossary_rows(text: str | None = None) -> list[Row]:
    if text is None:
        text = GLOSSARY.read_text(encoding="utf-8")
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if cells[0] in ("English", "") or set(cells[0]) <= set("-: "):
            continue
        cells += [""] * (4 - len(cells))
        target = DOC.search(cells[3])
        first = ""
        if target:
            first = target.group(1).strip()
            first = first[len("../"):] if first.startswith("../") else f"chapters/{first}"
        rows.append(Row(cells[0], cells[1], cells[2], first, number))
    return rows


def match(marks: list[Mark], rows: list[Row]) -> tuple[list[str], list[str]]:
    """Attach each mark to its row; return (marks without a row, Chinese disagreements)."""
    by_name: dict[str, list[Row]] = {}
    for row in rows:
        for name in row.names():
            by_name.setdefault(name, []).append(row)
    missing, chinese = [], []
    for mark in marks:
        candidates = {id(r): r for n in mark.names() for r in by_name.get(n, [])}
        if not candidates:
            missing.append(f"{mark}: no glossary row is named {sorted(mark.names())}")
            continue
        for row in candidates.values():
            row.marks.append(mark)
            bad = [zh for zh in mark.chinese if chinese_key(zh) not in chinese_key(row.chinese)]
            if bad:
                chinese.append(f"{mark}: {row} gives the Chinese '{row.chinese}', "
                               f"which does not contain {bad}")
    return missing, chinese


def report(title: str, problems: list[str]) -> str:
    return f"{len(problems)} {title}:\n  " + "\n  ".join(problems)


def test_the_conventions_on_examples():
    rows = glossary_rows(
        "| English | 中文 | Definition | First chapter |\n|---|---|---|---|\n"
        "| machine learning (ML) | 机器学习 | Learning from data. | {doc}`Ch. 1 <01-landscape>` |\n"
        "| backbone, head | 主干网络、任务头 | Features; outputs. | {doc}`10-transfer` |\n"
        "| logit | 对数几率 | $p\\|q$ | {doc}`Intro <../intro>` |\n")
    assert [r.first for r in rows] == ["chapters/01-landscape", "chapters/10-transfer", "intro"]
    assert rows[0].names() == {"machine learning (ml)", "machine learning", "ml"}
    assert rows[2].definition == "$p\\|q$"
    text = ("**Machine learning (机器学习, ML)** and the **`heads` (任务头)**; "
            "**The backbone (主干网络).** **logits (未归一化的对数概率)**, **梯度**, "
            "**weight sharing, 权值共享**, **concepts (概念) → code (代码)**\n"
            "```\n**code (代码)**\n```\n")
    marks, malformed = marks_in(text, "chapters/01-landscape", "here")
    assert [(m.english, m.chinese, m.aliases) for m in marks] == [
        ("Machine learning", ["机器学习"], ["ML"]), ("`heads`", ["任务头"], []),
        ("The backbone", ["主干网络"], []), ("logits", ["未归一化的对数概率"], [])]
    assert malformed == ["**weight sharing, 权值共享** in here"]
    missing, chinese = match(marks, rows)
    assert missing == []
    assert len(chinese) == 1 and "未归一化的对数概率" in chinese[0]
    assert [len(r.marks) for r in rows] == [1, 2, 1]


def test_every_mark_has_a_glossary_row_with_its_chinese():
    marks, _ = all_marks()
    assert marks, "no term marks found in the chapters"
    missing, chinese = match(marks, glossary_rows())
    problems = []
    if missing:
        problems.append(report("marked terms have no glossary row (add a row, or give the "
                               "mark a name or alias that a row lists)", missing))
    if chinese:
        problems.append(report("marks disagree with their row's Chinese", chinese))
    assert not problems, "\n\n".join(problems)


def test_every_glossary_row_is_marked_in_its_first_chapter():
    marks, _ = all_marks()
    rows = glossary_rows()
    match(marks, rows)
    order = {page: i for i, page in enumerate(scanned_pages())}
    unmarked, wrong_first = [], []
    for row in rows:
        if not row.marks:
            unmarked.append(f"{row}: no chapter marks it as **English (中文)**")
            continue
        earliest = min(row.marks, key=lambda m: order[m.page])
        if row.first != earliest.page:
            wrong_first.append(f"{row}: First chapter is '{row.first or 'missing'}', but it is "
                               f"first marked in {earliest.page} ({earliest})")
    problems = []
    if unmarked:
        problems.append(report("glossary rows are not marked in any chapter", unmarked))
    if wrong_first:
        problems.append(report("glossary rows name the wrong first chapter", wrong_first))
    assert not problems, "\n\n".join(problems)


def test_no_duplicate_glossary_rows():
    rows = glossary_rows()
    assert rows, f"no table rows in {GLOSSARY}"
    owners: dict[str, list[Row]] = {}
    for row in rows:
        for name in row.names():
            owners.setdefault(name, []).append(row)
    duplicates = [f"'{name}' is a name of " + " and ".join(map(str, owners[name]))
                  for name in sorted(owners) if len(owners[name]) > 1]
    assert not duplicates, report("names belong to more than one glossary row", duplicates)


def test_every_row_has_four_filled_cells():
    bad = [f"{row}: " + ", ".join(n for n, v in (("中文", row.chinese), ("Definition", row.definition),
                                                ("First chapter", row.first)) if not v)
           for row in glossary_rows() if not (row.chinese and row.definition and row.first)]
    assert not bad, report("glossary rows have empty cells", bad)


def test_bold_chinese_is_written_as_a_mark():
    _, malformed = all_marks()
    assert not malformed, report("bold texts contain Chinese but are not written "
                                 "**English (中文)**", malformed)
