"""``make test-gpu``: every notebook and the book.nn-against-torch tests on the first CUDA device.

The notebooks (chapters and exercise masters) run under nbval in the
``portable`` mode of the reproducibility model (CONTRIBUTING.md): each in a
fresh kernel that sees only GPU 0, every cell and so every assertion must
pass, and the stored outputs are compared as far as the model calls them
platform-independent: text, counts and shapes exactly; numbers with a
``(tol ±…)`` mark came from CPU kernels and are left to the checks cells. The
notebooks on disk are not changed. Then the tests that compare :mod:`book.nn`
with torch run with torch's default device set to CUDA
(``BOOK_TEST_DEVICE=cuda``, see ``conftest.py``), TF32 off.

Without CUDA it says so and exits 0, so it is safe to run anywhere.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NN_TESTS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_nn_*.py"))


def cuda_name() -> str | None:
    """The name of GPU 0, or None where torch sees no CUDA device."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def main() -> int:
    name = cuda_name()
    if name is None:
        print("make test-gpu: no CUDA device is visible to torch here; nothing to check (exit 0).")
        return 0
    from tools import kernels

    kernels.apply()  # the CPU side of each notebook still runs on the pinned kernels
    env = {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0], "BOOK_TEST_DEVICE": "cuda"}
    print(kernels.header("cuda"))
    print(f"make test-gpu on {name}", flush=True)
    failures = []
    notebooks = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "chapters", "exercises"],
                               cwd=ROOT, env={**os.environ, **env})
    if notebooks.returncode != 0:
        failures.append("notebooks (nbval, portable mode)")
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q", *NN_TESTS],
        cwd=ROOT, env={**os.environ, **env},
    )
    if tests.returncode != 0:
        failures.append("book.nn tests on CUDA")
    print("make test-gpu: " + ("all passed" if not failures else f"FAILED: {', '.join(failures)}"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
