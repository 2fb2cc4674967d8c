"""pytest configuration shared by the unit tests and the notebook tests.

Tiers (``pytest -m NAME``; ``make test-fast`` runs ``unit``): every test is
marked by where it lives, so no test file has to remember to mark itself.

* ``notebooks``: the chapter and exercise notebooks re-executed by nbval, and
  tests that start other Python processes (a notebook run outside the
  checkout, two torchrun workers);
* ``site``: checks of the built HTML book (``tests/site``, ``test_built_site.py``);
* ``grading``: the classroom grading tools (``tests/test_grading*.py``);
* ``unit``: everything else, fast and self-contained.

``BOOK_TEST_DEVICE=cuda`` (set by ``make test-gpu``) makes torch create its
tensors and modules on that device, so the tests that compare ``book.nn`` with
torch run there.
"""
import os
from pathlib import Path

from tools import kernels

# Stated tolerances in stored outputs: "0.980 (tol ±0.01)" (tools/nbval_tolerance.py).
pytest_plugins = ["tools.nbval_tolerance"]

NOTEBOOK_TESTS = {"test_notebooks_outside.py", "test_distributed.py", "test_reproducibility.py"}
SITE_TESTS = {"test_built_site.py"}


def tier(path: Path) -> str:
    if path.suffix == ".ipynb" or path.name in NOTEBOOK_TESTS:
        return "notebooks"
    if path.name in SITE_TESTS or "site" in path.parent.parts[-1:]:
        return "site"
    if path.name.startswith("test_grading"):
        return "grading"
    return "unit"


def pytest_configure(config):
    # Before any test imports torch, and before nbval starts a kernel (it inherits the variables).
    kernels.apply()
    for name, text in (("unit", "fast, self-contained tests (make test-fast)"),
                       ("notebooks", "notebooks re-executed (nbval); tests that start other processes"),
                       ("site", "checks of the built HTML book"),
                       ("grading", "the classroom grading tools")):
        config.addinivalue_line("markers", f"{name}: {text}")
    device = os.environ.get("BOOK_TEST_DEVICE")
    if device:
        import torch

        torch.set_default_device(device)
        # Agreement to 1e-7 in float64 needs full-precision matrix products on a GPU.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def pytest_report_header(config):
    return kernels.header()


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(tier(Path(str(item.fspath))))


def pytest_collectstart(collector):
    # TensorFlow and tqdm write to stderr; what a notebook prints to stdout and
    # displays is what nbval compares.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
