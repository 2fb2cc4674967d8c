"""Fixtures shared by the tests under tests/."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import book

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(book.__file__).resolve().parent


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel that `pip wheel .` builds from this checkout."""
    # Build from a copy, so that the build leaves nothing behind in the checkout.
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(PACKAGE, src / "book", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
                   check=True, capture_output=True)
    (path,) = out.glob("book-*.whl")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a test module with one torch thread: on a loaded 2-core machine two threads spin-wait on
    each other (ten times slower, measured), and the models in these tests are tiny anyway. Module
    scope, so that module-scoped fixtures (a model trained once) get it too; the setting is
    restored afterwards, unlike a module-level ``torch.set_num_threads(1)``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
