"""The notebook tier still catches real changes (the mutation test of the reproducibility model).

Tolerances and tags make the comparison forgiving where another CPU may move a
number; this proves they did not make it blind. A chapter is copied three times
into a temporary folder: unchanged, with one stored training result (a number
with a ``(tol ±…)`` mark) moved by 10 %, and with one word of stored text
changed. nbval, with the book's comparison plugin, must pass the unchanged copy
and fail each mutant on exactly the mutated cell.
"""
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat

from tools.nbval_tolerance import MARKED
from tools.notebooks import chapter_notebooks

ROOT = Path(__file__).resolve().parent.parent
TIMES = json.loads((ROOT / "chapters" / "_data" / "execution_times.json").read_text())["notebooks"]


def compared(cell) -> bool:
    return cell.cell_type == "code" and "nbval-ignore-output" not in cell.metadata.get("tags", [])


def stdout(cell):
    return [o for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]


def fastest_chapter_with_a_marked_result() -> Path:
    def marked(path):
        cells = nbformat.read(path, as_version=4).cells
        return any(MARKED.search(o.text) for c in cells if compared(c) for o in stdout(c))
    paths = sorted(chapter_notebooks(), key=lambda p: TIMES.get(str(p.relative_to(ROOT)), {}).get("seconds", 1e9))
    return next(p for p in paths if marked(p))


def move_a_result(nb) -> int:
    """Multiply the first marked number by 1.1, keeping its printed digits; return the code cell's index."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    for index, cell in enumerate(code):
        for out in stdout(cell) if compared(cell) else []:
            match = MARKED.search(out.text)
            if match:
                text = match["num"]
                decimals = len(text.split(".")[1]) if "." in text else 0
                moved = f"{float(text) * 1.1:.{decimals}f}"
                assert moved != text
                out.text = out.text[:match.start("num")] + moved + out.text[match.end("num"):]
                return index
    raise AssertionError("no marked number")


def change_a_word(nb) -> int:
    """Replace one word of stored text (the first word of five letters or more) by another."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    for index, cell in enumerate(code):
        for out in stdout(cell) if compared(cell) else []:
            match = re.search(r"\b[a-z]{5,}\b", out.text)
            if match:
                out.text = out.text[:match.start()] + "zebra" + out.text[match.end():]
                return index
    raise AssertionError("no word to change")


def test_the_notebook_tier_catches_a_moved_result_and_a_changed_word(tmp_path):
    source = fastest_chapter_with_a_marked_result()
    work = tmp_path / "chapters"
    work.mkdir()
    mutated = {}
    for name, mutate in (("unchanged", None), ("moved-result", move_a_result), ("changed-word", change_a_word)):
        nb = nbformat.read(source, as_version=4)
        mutated[name] = mutate(nb) if mutate else None
        nbformat.write(nb, work / f"{name}.ipynb")
    report = tmp_path / "report.xml"
    # The copies lie outside the checkout, so the root conftest.py (kernel pins, the tolerance
    # plugin, stderr left uncompared) is loaded by name, as CI loads it for the real notebooks.
    subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-p", "conftest",
         "--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(ROOT / "tests" / "sanitize.cfg"),
         "-n", "2", "--dist", "loadfile", "-q", f"--junitxml={report}", str(work)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    failed = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            notebook = Path(case.get("file") or case.get("classname", "")).stem or case.get("classname")
            failed.setdefault(notebook, []).append(case.get("name"))
    by_notebook = {name: sorted(cells) for name, cells in failed.items()}
    found = {name: [c for c in cells] for name, cells in by_notebook.items()}
    assert not any("unchanged" in k for k in found), f"the unchanged copy of {source.name} failed: {found}"
    for name in ("moved-result", "changed-word"):
        cells = [c for k, v in found.items() if name in k for c in v]
        assert cells == [f"Cell {mutated[name]}"], f"{name} of {source.name}: failing cells {cells}"
