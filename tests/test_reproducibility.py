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
MASKED = re.compile(r"Devices:|\(wall time\)|\(timing ratio\)|0x[0-9a-fA-F]{6,}")
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
    """Replace one word of stored text (the first word of five letters or more) by another.

    Lines that tests/sanitize.cfg masks (the device line, wall times, ratios) are skipped:
    a change there is meant to pass.
    """
    code = [c for c in nb.cells if c.cell_type == "code"]
    for index, cell in enumerate(code):
        for out in stdout(cell) if compared(cell) else []:
            offset = 0
            for line in out.text.splitlines(keepends=True):
                match = None if MASKED.search(line) else re.search(r"\b[a-z]{5,}\b", line)
                if match:
                    start, end = offset + match.start(), offset + match.end()
                    out.text = out.text[:start] + "zebra" + out.text[end:]
                    return index
                offset += len(line)
    raise AssertionError("no word to change")


def test_the_notebook_tier_catches_a_moved_result_and_a_changed_word(tmp_path):
    source = fastest_chapter_with_a_marked_result()
    # The copies live in a mirror of the checkout (links to everything else), so that a chapter
    # that reads a file of the repository (chapter 13 reads references.bib) sees what it sees in CI.
    for item in ROOT.iterdir():
        if item.name not in {"chapters", ".git", ".venv", "_build"}:
            (tmp_path / item.name).symlink_to(item)
    work = tmp_path / "chapters"
    work.mkdir()
    for item in (ROOT / "chapters").iterdir():
        if item.suffix != ".ipynb":
            (work / item.name).symlink_to(item)
    mutated = {}
    for name, mutate in (("unchanged", None), ("moved-result", move_a_result), ("changed-word", change_a_word)):
        nb = nbformat.read(source, as_version=4)
        mutated[name] = mutate(nb) if mutate else None
        nbformat.write(nb, work / f"{name}.ipynb")
    failed, output = {}, {}
    for name in mutated:
        report = tmp_path.parent / f"{tmp_path.name}-{name}.xml"
        # The mirror's pytest.ini and conftest.py are the checkout's: the same options, kernel pins
        # and tolerance plugin as the notebook tier, with nbval's options as the Makefile gives them.
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider",
             "--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(ROOT / "tests" / "sanitize.cfg"),
             "-q", f"--junitxml={report}", str(work / f"{name}.ipynb")],
            cwd=ROOT, capture_output=True, text=True, timeout=900)
        cases = list(ET.parse(report).getroot().iter("testcase"))
        assert cases, f"{name}: nothing ran\n{run.stdout[-3000:]}"
        failed[name] = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
        output[name] = run.stdout[-3000:]
    assert failed["unchanged"] == [], f"the unchanged copy of {source.name} failed: {failed}\n{output['unchanged']}"
    for name in ("moved-result", "changed-word"):
        assert failed[name] == [f"Cell {mutated[name]}"], (
            f"{name} of {source.name}: failing cells {failed[name]}\n{output[name]}")
