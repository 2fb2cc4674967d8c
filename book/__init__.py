"""The library that the book's notebooks import.

``import book`` is light: it loads neither torch nor TensorFlow. The modules
that need a framework import it themselves, and so does :func:`setup`. Each
helper lives in a module named for what it holds (CONTRIBUTING.md draws the
tree): ``book.nn`` (NumPy layers mirroring ``torch.nn``), ``book.data``,
``book.models``, ``book.training``, ``book.counting``, ``book.plotting``,
plus ``book.checks``, ``book.gradcheck``, ``book.device``, ``book.seeding``
and ``book.source``.
"""
import os
import platform

# Quieten TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The book never downloads at run time; make any accidental hub access fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")



def _portable_cpu_kernels() -> None:
    """Make torch use its AVX2 kernels on x86 CPUs that also have AVX-512.

    torch picks the widest vector kernels a CPU offers, and AVX-512 kernels
    round differently from AVX2 ones; a deep network trained for a few epochs
    amplifies that into different printed results (a chapter-4 run ended at a
    training loss of 0.320 with AVX2 and 0.202 with AVX-512). Every x86 CPU of
    the last decade has AVX2, so with this the book's numbers repeat on all of
    them. It must happen before torch is imported; a reader who wants the
    fastest kernels sets ``ATEN_CPU_CAPABILITY`` (e.g. to ``default``) first.
    """
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return
    if "avx2" in flags and "avx512f" in flags:
        os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")


_portable_cpu_kernels()

from book.device import describe_devices, torch_device  # noqa: E402
from book.seeding import seed  # noqa: E402

__version__ = "0.2.0"


def setup(seed_value: int = 0) -> None:
    """Seed every library and print which devices torch and TensorFlow will use.

    Called in the first code cell of every notebook. It returns nothing, so
    the device line appears once even as the last line of a cell.
    """
    seed(seed_value)
    print(describe_devices())


__all__ = ["describe_devices", "seed", "setup", "torch_device"]
