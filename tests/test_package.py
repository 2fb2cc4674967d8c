"""The shape of the learner library: light to import, one rule for arguments,
source labels that do not depend on the checkout, and a wheel that carries the
library (with its data and its dependencies) and none of the tools."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import book
import book.nn as nn
from book import checks
from book.counting import params
from book.data import make_linear_data
from book.training import train_loop

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(book.__file__).resolve().parent


def fresh_python(code: str, **kwargs) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, **kwargs)
    return out.stdout.strip()


def test_import_book_loads_no_framework():
    code = ("import sys, book, book.nn, book.data, book.counting, book.checks, book.training, book.models; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    assert fresh_python(code) == "[]"


def test_setup_imports_torch_itself():
    code = "import sys, book; book.seed(0, tensorflow=False); print('torch' in sys.modules)"
    assert fresh_python(code) == "True"


@pytest.mark.parametrize("call", [
    lambda: nn.Linear(True, 4),
    lambda: train_loop(lambda e: {}, epochs=True),
    lambda: make_linear_data(n=True),
    lambda: params.dense(4, False),
    lambda: nn.Dropout(True),
    lambda: nn.SGD(nn.Linear(2, 2), lr=True),
    lambda: book.seed(True),
])
def test_bool_is_never_a_number(call):
    with pytest.raises(ValueError, match="got (True|False)"):
        call()


def test_numpy_integers_are_whole_numbers_everywhere():
    assert params.dense(np.int64(3), 4) == params.dense(3, 4) == 16
    assert type(params.dense(np.int64(3), 4)) is int
    assert nn.Linear(np.int64(3), np.int32(4)).params["weight"].shape == (4, 3)
    assert make_linear_data(n=np.int64(5))[0].shape == (5, 1)
    assert train_loop(lambda e: {"x": e}, epochs=np.int64(2), progress=False) == {"x": [0.0, 1.0]}


def test_checks_messages_name_owner_argument_and_value():
    with pytest.raises(ValueError, match=r"^Linear: in_features must be a positive int, got 0$"):
        checks.positive_int(0, "in_features", owner="Linear")
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\), got 1\.0"):
        checks.real(1.0, "p", 0.0, 1.0, high_open=True)
    with pytest.raises(ValueError, match="lr must be a positive number, got nan"):
        checks.positive(float("nan"), "lr")
    with pytest.raises(ValueError, match=r"one of \('a', 'b'\)"):
        checks.one_of("c", ("a", "b"), "mode")
    assert checks.non_negative_int(np.uint8(0), "n") == 0
    assert checks.positive_ints((np.int16(2), 3), "sizes", min_length=2) == [2, 3]
    with pytest.raises(ValueError, match="sizes"):
        checks.positive_ints([2, 2.0], "sizes")


def test_no_tool_lives_in_the_library():
    names = {p.name for p in PACKAGE.rglob("*")}
    assert not names & {"grading", "execute.py", "sphinxext", "assets"}, names & {"grading", "execute.py", "sphinxext", "assets"}
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import tools" not in text and "from tools" not in text, path


@pytest.mark.parametrize("folder", ["book", "my checkout"])
def test_show_source_labels_by_path_inside_the_package(tmp_path, folder):
    # A checkout folder named "book" made the label "book/book/gradcheck.py" once.
    where = tmp_path / folder
    shutil.copytree(PACKAGE, where / "book", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import book.gradcheck as g, book.nn.linear as l; from book.source import source_label; "
            "print(g.__file__); print(source_label(g.rel_error)); print(source_label(l.Linear))")
    lines = fresh_python(code, cwd=where, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(where)}).splitlines()
    assert lines[0].startswith(str(where)), lines  # the copy, not the checkout, was imported
    assert lines[1:] == ["book/gradcheck.py", "book/nn/linear.py"]


def test_wheel_holds_the_library_and_its_data_and_no_tools(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"book", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, top
    assert "book/data/model_sizes.csv" in names
    assert "book/nn/linear.py" in names and "book/checks.py" in names
    assert not any(n.startswith(("tools/", "tests/", "chapters/", "exercises/")) for n in names)


def test_wheel_declares_its_runtime_dependencies(wheel):
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    lines = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    required = {line.split(";")[0] for line in lines}
    # The core is what every reader gets; an extra may pin (minilm pins the weights whose SHA-256 the book checks).
    core = {line.split(";")[0] for line in lines if "extra ==" not in line}
    names = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in required}
    for needed in ("numpy", "torch", "matplotlib", "scikit-learn"):
        assert needed in names, required
    assert all(">=" in r for r in core), f"runtime dependencies are ranges, not pins: {core}"
    assert f"Version: {book.__version__}" in meta
