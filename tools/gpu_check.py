"""``make test-gpu``: every notebook and the book.nn-against-torch tests on the first CUDA device.

Each notebook (chapters and exercise masters, as listed by ``tools.notebooks``)
is executed top to bottom in a fresh kernel that sees only GPU 0. Every cell
must run without error, so every assertion must hold; printed outputs are not
compared, since a GPU's kernels round differently from the CPU's on which the
stored outputs were made. The notebooks on disk are not changed. Then the
tests that compare :mod:`book.nn` with torch run with torch's default device
set to CUDA (``BOOK_TEST_DEVICE=cuda``, see ``conftest.py``), TF32 off.

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
    from tools.execute import run
    from tools.notebooks import all_notebooks

    env = {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0]}
    print(f"make test-gpu on {name}")
    failures = []
    for path in all_notebooks():
        rel = path.relative_to(ROOT)
        try:
            _, seconds = run(path, timeout=1200, env=env)
            print(f"  ok    {rel}  {seconds:.1f} s", flush=True)
        except Exception as err:  # report every notebook, not only the first failure
            failures.append(str(rel))
            print(f"  FAIL  {rel}: {type(err).__name__}: {str(err).strip().splitlines()[-1][:300]}", flush=True)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q", *NN_TESTS],
        cwd=ROOT, env={**os.environ, **env, "BOOK_TEST_DEVICE": "cuda"},
    )
    if tests.returncode != 0:
        failures.append("book.nn tests on CUDA")
    print("make test-gpu: " + ("all passed" if not failures else f"FAILED: {', '.join(failures)}"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
