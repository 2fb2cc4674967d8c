"""Helpers and reference implementations used by the notebooks of the book.

Each helper lives in a module named for what it holds, so a reader can find it:
``book.device``, ``book.seeding``, ``book.gradcheck``, ``book.data``,
``book.plotting``, ``book.training``, ``book.source``, ``book.params`` and the
NumPy layer library ``book.nn``.
"""
import os

# Quieten TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The book never downloads at run time; make any accidental hub access fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from book.device import describe_devices, torch_device  # noqa: E402
from book.seeding import seed  # noqa: E402


def setup(seed_value: int = 0) -> None:
    """Seed every library and print which devices torch and TensorFlow will use.

    Called in the first code cell of every notebook. It returns nothing, so
    the device line appears once even as the last line of a cell.
    """
    seed(seed_value)
    print(describe_devices())


__all__ = ["describe_devices", "seed", "setup", "torch_device"]
