"""Which CPU kernels the book's notebooks run on: the one place that pins them.

Every path that executes notebooks (``make execute``, ``make test``, ``make
test-gpu``) calls :func:`apply` before it starts a kernel or imports torch, so
the choice below reaches the notebook kernels through their environment.
CONTRIBUTING.md ("The reproducibility model") explains why.

``BOOK_CPU`` picks the set:

* ``pinned`` (the default on x86-64): the same kernels on every x86-64 CPU of
  the last decade, Intel with AVX-512 or AMD with AVX2 only, one thread each.
  With them a run repeats bit for bit on one machine and, as far as the
  libraries allow, across x86-64 machines. Correctness never depends on it:
  the stored outputs are compared exactly only where no kernel choice could
  change them, and within a stated tolerance elsewhere.
* ``other``: a simulated other CPU (torch's generic kernels, OpenBLAS's
  Sandybridge kernels, MKL's compatible path, oneDNN capped at SSE4.1, below
  the pins' AVX2, so that TensorFlow's kernels change too). The portability
  pass of ``make test`` runs every chapter under it.
* ``native``: leave the environment as it is (the libraries pick the widest
  kernels; threads as many as cores).

On arm64 (Apple silicon, Linux aarch64) none of these variables exists, and
under ``make test-gpu`` the numbers come from CUDA kernels, so :func:`mode`
reports ``portable``: every cell and assertion runs, and the stored outputs
are compared as far as the model calls them platform-independent.
"""
from __future__ import annotations

import os
import platform

THREADS = {
    # One thread per library: a reduction split over threads sums in another order.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}

PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's vectorised kernels
    "MKL_CBWR": "AVX2",  # MKL's conditional numerical reproducibility (torch's BLAS)
    "OPENBLAS_CORETYPE": "Haswell",  # NumPy's BLAS
    "DNNL_MAX_CPU_ISA": "AVX2",  # oneDNN, in torch and TensorFlow
    **THREADS,
}

OTHER = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
    "OPENBLAS_CORETYPE": "Sandybridge",
    # Below the pins' AVX2, or TensorFlow's oneDNN kernels would be the pinned ones exactly.
    "DNNL_MAX_CPU_ISA": "SSE41",
    **THREADS,
}

SETS = {"pinned": PINNED, "other": OTHER, "native": {}}


def is_x86_64() -> bool:
    return platform.machine().lower() in {"x86_64", "amd64"}


def choice() -> str:
    """The kernel set asked for: ``BOOK_CPU``, else ``pinned`` on x86-64 and ``native`` elsewhere."""
    name = os.environ.get("BOOK_CPU") or ("pinned" if is_x86_64() else "native")
    if name not in SETS:
        raise SystemExit(f"error: BOOK_CPU={name!r}; expected one of {', '.join(SETS)}")
    if name != "native" and not is_x86_64():
        name = "native"  # the variables name x86 kernels; they mean nothing elsewhere
    return name


def apply() -> str:
    """Set the chosen kernel variables in ``os.environ`` (children inherit them); return the choice."""
    name = choice()
    os.environ.update(SETS[name])
    os.environ["BOOK_CPU"] = name
    return name


def device() -> str:
    """Where the tests put torch's tensors: ``cpu``, or ``cuda`` under ``make test-gpu`` (``BOOK_TEST_DEVICE``)."""
    return os.environ.get("BOOK_TEST_DEVICE", "cpu")


def mode(on: str | None = None) -> str:
    """``x86-64`` where the pins apply to CPU kernels, else ``portable`` (arm64, or a CUDA run)."""
    return "x86-64" if is_x86_64() and (on or device()) == "cpu" else "portable"


def header(on: str | None = None) -> str:
    """The first line of a run: the comparison mode, the kernel set, and why."""
    on = on or device()
    if mode(on) == "portable":
        where = f"a {on.upper()} device" if on != "cpu" else f"a {platform.machine()} CPU"
        return (f"book reproducibility mode: portable (running on {where}, where the x86-64 kernel pins do not "
                "apply); every cell and assertion runs; exact outputs compared, numbers with a stated tolerance "
                + ("compared within it" if on == "cpu" else "left to the checks cells"))
    name = os.environ.get("BOOK_CPU", choice())
    kernels = ", ".join(f"{k}={v}" for k, v in SETS[name].items() if k not in THREADS)
    why = {"pinned": f"x86-64 CPU; kernels pinned ({kernels}, one thread)",
           "other": f"x86-64 CPU simulating another CPU ({kernels})",
           "native": "x86-64 CPU; BOOK_CPU=native leaves the libraries' own kernel choice"}[name]
    return (f"book reproducibility mode: x86-64 ({why}); stored outputs compared exactly, within their "
            "stated tolerances, or by their checks cells")

if __name__ == "__main__":
    # Prints the run's first line. Exit status 1 when BOOK_CPU=other cannot be simulated here
    # (not x86-64): make test then skips its portability pass.
    import sys

    asked = os.environ.get("BOOK_CPU")
    apply()
    if asked == "other" and not is_x86_64():
        print(f"portability pass skipped: a simulated other x86-64 CPU means nothing on {platform.machine()}")
        sys.exit(1)
    print(header())
