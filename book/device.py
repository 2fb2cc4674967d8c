"""Which accelerator torch and TensorFlow will use.

Code in the book is device-agnostic: it asks :func:`torch_device` for a device
and moves tensors there. TensorFlow places operations on a GPU by itself.
torch is imported when a function is called, so ``import book`` stays light.
"""
from __future__ import annotations


def torch_device():
    """Return CUDA if available, then Apple MPS, else the CPU, as a ``torch.device``."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _tensorflow_device() -> str:
    try:
        import tensorflow as tf
    except ImportError:  # the book's pins include it, but helpers must not need it
        return "not installed"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU ({len(gpus)} visible)"
    return "CPU"


def describe_devices() -> str:
    """One line naming the devices torch and TensorFlow will run on.

    The line starts with ``Devices:`` so that the notebook tests can treat it
    as machine-dependent output.
    """
    import torch

    dev = torch_device()
    name = dev.type
    if dev.type == "cuda":
        name = f"cuda ({torch.cuda.get_device_name(0)})"
    return f"Devices: torch -> {name}; TensorFlow -> {_tensorflow_device()}"
