"""Every notebook is committed as one fresh, in-order run with no errors.

nbval compares stored outputs with fresh ones, but a notebook committed
without outputs would pass it trivially; these checks close that gap.
"""
from pathlib import Path

import nbformat
import pytest

from tools.notebooks import all_notebooks, chapter_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = all_notebooks()
CHAPTERS = chapter_notebooks()


def test_there_are_notebooks():
    assert CHAPTERS, "_toc.yml lists no notebook"


def test_no_notebook_is_left_out_of_the_lists():
    on_disk = {p for folder in ("chapters", "exercises") for p in (ROOT / folder).rglob("*.ipynb")
               if ".ipynb_checkpoints" not in p.parts}
    assert on_disk == set(NOTEBOOKS), f"notebooks outside _toc.yml or exercises/*/: {sorted(on_disk - set(NOTEBOOKS))}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_one_fresh_in_order_run(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    counts = [c.get("execution_count") for c in code]
    assert None not in counts, f"{path.name}: cells {[i for i, n in enumerate(counts) if n is None]} never ran"
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(code)}; re-run it with `make execute`"
    )
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} was committed with an error output: {errors[0].get('ename')}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_starts_with_setup_and_has_checks(path):
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert "book.setup(" in code[0], f"{path.name}: the first code cell must call book.setup(seed)"
    n_asserts = sum(src.count("assert ") for src in code)
    assert n_asserts >= 3, f"{path.name} has only {n_asserts} assertions; each section ends with checks"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_checks_cells_are_collapsed_in_the_book(path):
    """A checks cell stays in the notebook (CI runs it) but folds away in the rendered page."""
    nb = nbformat.read(path, as_version=4)
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith("# Checks")]
    assert checks, f"{path.name} has no checks cell (a code cell starting with '# Checks')"
    open_cells = [c.source.splitlines()[0] for c in checks if "hide-input" not in c.metadata.get("tags", [])]
    assert not open_cells, f"{path.name}: checks cells without the hide-input tag: {open_cells}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_widget_state_is_committed(path):
    """Widget state makes the rendered page load require.js and a widget manager from CDNs."""
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata, f"{path.name} carries widget state: re-run it with `make execute`"
    views = [c for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert not views, f"{path.name} has widget outputs (use tqdm.std, writing to stderr)"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_outputs_left_to_assertions_are_checked(path):
    """A cell whose output nbval does not compare (class 3 of the reproducibility model) is followed by a checks cell.

    Generated samples and chaotic trajectories are shown but not compared; what stands for them is a
    ``# Checks`` cell later in the same section (before the next heading of level 1 or 2).
    """
    nb = nbformat.read(path, as_version=4)
    unchecked = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "nbval-ignore-output" not in cell.metadata.get("tags", []):
            continue
        for later in nb.cells[i + 1:]:
            if later.cell_type == "markdown" and any(line.startswith(("# ", "## ")) for line in later.source.splitlines()):
                unchecked.append(cell.source.splitlines()[0] if cell.source else f"cell {i}")
                break
            if later.cell_type == "code" and later.source.lstrip().startswith("# Checks"):
                break
        else:
            unchecked.append(cell.source.splitlines()[0] if cell.source else f"cell {i}")
    assert not unchecked, f"{path.name}: outputs not compared and not followed by a checks cell: {unchecked}"


def test_tolerance_marks_are_well_formed():
    """Every '(tol ±…)' in a stored output follows a number, so the comparison can read it."""
    from tools.nbval_tolerance import MARKED

    loose = []
    for path in CHAPTERS:
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                texts = [out.get("text", "")] + [v for v in out.get("data", {}).values() if isinstance(v, str)]
                for text in texts:
                    if text.count("(tol ±") != len(MARKED.findall(text)):
                        loose.append(f"{path.name}: {text[:80]!r}")
    assert not loose, loose
