"""What a machine runs the book with, and checks that it can run it offline.

* :func:`report`: the Python version, the installed versions of the book's
  frameworks, the device line of :func:`book.describe_devices`, the offline
  flags, and (in a clone of the repository) how the installed packages compare
  with the exact pins of ``requirements.txt``.
* :func:`read_pins`, :func:`check_pins`, :func:`pin_summary`: the pins, read
  from the file, against ``importlib.metadata``. A library installed with pip
  (Colab, Binder) has no ``requirements.txt`` beside it; then the pins are
  ``None`` and nothing is compared.
* :func:`block_network`: a context manager that makes every attempt to open an
  internet connection fail and records it, for a "no network" self-test.
* :func:`run_keras_backends`: train the same small Keras 3 model under several
  backends, each in its own process (Keras fixes its backend at import).

Nothing here imports torch, TensorFlow or Keras at module level.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import re
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

from book.checks import non_negative_int, positive_int

# The frameworks the report names, each with the distributions that may provide it
# (TensorFlow comes as ``tensorflow`` or, CPU only, ``tensorflow-cpu``).
FRAMEWORKS = {
    "numpy": ("numpy",),
    "scikit-learn": ("scikit-learn",),
    "torch": ("torch",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "keras": ("keras",),
    "jax": ("jax",),
    "transformers": ("transformers",),
    "jupyterlab": ("jupyterlab",),
}
OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
KERAS_BACKENDS = ("tensorflow", "torch", "jax")
STATUSES = ("match", "newer", "older", "missing")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)\s*(;.*)?$")


def canonical(name: str) -> str:
    """A distribution name in the form pip compares (PEP 503): ``Scikit_Learn`` -> ``scikit-learn``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"canonical: name must be a non-empty string, got {name!r}")
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def default_requirements() -> Path | None:
    """The repository's ``requirements.txt`` next to the ``book`` folder, or ``None`` when the library
    was installed on its own (a wheel carries no requirements file)."""
    path = Path(__file__).resolve().parent.parent / "requirements.txt"
    return path if path.is_file() else None


def read_pins(path=None) -> dict[str, str] | None:
    """The exact pins ``name==version`` of a requirements file, by canonical name.

    ``path=None`` reads :func:`default_requirements` and returns ``None`` when there is none.
    Blank lines and comments are skipped; any other line that is not an exact pin raises
    ``ValueError`` (the file is meant to pin everything).
    """
    if path is None:
        path = default_requirements()
        if path is None:
            return None
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"read_pins: no requirements file at {path}")
    pins = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"read_pins: line {number} of {path.name} is not an exact pin name==version: {line!r}")
        pins[canonical(match.group(1))] = match.group(2)
    return pins


def installed_version(*names: str) -> str | None:
    """The installed version of the first of ``names`` (distribution names) that is installed, else ``None``."""
    if not names:
        raise ValueError("installed_version: give at least one distribution name")
    for name in names:
        try:
            return metadata.version(canonical(name))
        except metadata.PackageNotFoundError:
            continue
    return None


class PinCheck(NamedTuple):
    """One pinned distribution: its pin, what is installed (``None``: missing) and the verdict."""

    name: str
    pinned: str
    installed: str | None
    status: str  # "match", "newer", "older" or "missing"

    @property
    def meets_pin(self) -> bool:
        """Installed at the pinned version or a newer one."""
        return self.status in ("match", "newer")


def compare_versions(pinned: str, installed: str | None) -> str:
    """``"match"``, ``"newer"``, ``"older"`` or ``"missing"``; a local label (``2.13.0+cpu``) is ignored."""
    from packaging.version import Version

    if installed is None:
        return "missing"
    have, want = Version(Version(installed).public), Version(Version(pinned).public)
    if have == want:
        return "match"
    return "newer" if have > want else "older"


def check_pins(pins: dict[str, str]) -> list[PinCheck]:
    """Compare every pin with what ``importlib.metadata`` finds installed, in the order of ``pins``."""
    if not isinstance(pins, dict):
        raise ValueError(f"check_pins: pins must be a dict name -> version (read_pins returns one), got {type(pins).__name__}")
    checks = []
    for name, pinned in pins.items():
        installed = installed_version(name)
        checks.append(PinCheck(canonical(name), pinned, installed, compare_versions(pinned, installed)))
    return checks


def pin_summary(checks: list[PinCheck]) -> dict[str, int]:
    """How many pins match, are newer, older or missing (every status present, zeros included)."""
    counts = dict.fromkeys(STATUSES, 0)
    for check in checks:
        if check.status not in counts:
            raise ValueError(f"pin_summary: unknown status {check.status!r}")
        counts[check.status] += 1
    return counts


def offline_flags() -> dict[str, str | None]:
    """The values of the environment variables that keep Hugging Face libraries off the network."""
    return {flag: os.environ.get(flag) for flag in OFFLINE_FLAGS}


def report(requirements=None) -> dict:
    """Everything a bug report about the book should say about the machine.

    Keys: ``python`` (``"3.11"``), ``platform``, ``packages`` (framework -> installed version or
    ``None``), ``devices`` (the ``Devices: ...`` line; imports torch, and TensorFlow if installed),
    ``offline`` (:func:`offline_flags`), ``requirements`` (the file read, or ``None``) and ``pins``
    (:func:`check_pins` of it, or ``None`` when there is no file).
    """
    from book.device import describe_devices

    path = default_requirements() if requirements is None else Path(requirements)
    pins = None if path is None else check_pins(read_pins(path))
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "platform": f"{platform.system()} {platform.machine()}",
        "packages": {name: installed_version(*dists) for name, dists in FRAMEWORKS.items()},
        "devices": describe_devices(),
        "offline": offline_flags(),
        "requirements": path,
        "pins": pins,
    }


@contextlib.contextmanager
def block_network():
    """Inside the block, every internet connection fails with ``OSError`` before a packet leaves.

    Yields a list that records each attempt (a host name looked up, or an address connected to).
    Name look-ups (``socket.getaddrinfo``) and connections of IPv4 and IPv6 sockets are refused;
    local Unix sockets still work. The originals are restored on exit, also after an error.
    Code that opens sockets below Python (C extensions) is not seen.
    """
    attempts: list = []
    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
    internet = {socket.AF_INET, socket.AF_INET6}

    def refuse(what):
        attempts.append(what)
        raise OSError(f"network blocked by book.environment.block_network: {what!r}")

    def connect(self, address):
        if self.family in internet:
            refuse(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in internet:
            refuse(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        refuse(host)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = real_connect, real_connect_ex, real_getaddrinfo


# The program each Keras process runs: argv = out_dir, backend, epochs, seed.
_KERAS_WORKER = """
import sys
from book.environment import keras_worker
keras_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
"""


def keras_worker(out_dir, backend: str, epochs: int, seed: int) -> None:
    """Run in a fresh process with ``KERAS_BACKEND=backend``: train a 64-32-10 Keras MLP on the digits
    that :func:`run_keras_backends` left in ``out_dir/digits.npz`` (no scikit-learn import here).

    Writes ``{backend}.keras`` (the trained model), ``{backend}.npz`` (its logits on the validation
    images) and ``{backend}.json`` (the backend Keras reports, the Keras version, the types of a weight
    and of an output, the first and last training loss and the validation accuracy).
    """
    import numpy as np

    import keras

    out = Path(out_dir)
    if backend == "tensorflow":  # threads first: TensorFlow fixes them when its runtime starts
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.set_num_threads(1)
    keras.utils.set_random_seed(seed)
    with np.load(out / "digits.npz") as data:
        X_train, y_train, X_val, y_val = (data[k] for k in ("X_train", "y_train", "X_val", "y_val"))
    model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=64, verbose=0, shuffle=True)
    logits = model.predict(X_val, verbose=0)
    output = model(X_val[:2])
    kernel = model.layers[0].kernel.value
    model.save(out / f"{backend}.keras")
    np.savez(out / f"{backend}.npz", logits=logits)
    result = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "weight_type": f"{type(kernel).__module__}.{type(kernel).__name__}",
        "output_type": f"{type(output).__module__}.{type(output).__name__}",
        "first_loss": float(history.history["loss"][0]),
        "last_loss": float(history.history["loss"][-1]),
        "val_acc": float(np.mean(logits.argmax(1) == y_val)),
    }
    (out / f"{backend}.json").write_text(json.dumps(result), encoding="utf-8")


def backend_available(backend: str) -> bool:
    """Whether the Python package behind a Keras backend is installed (looked up, not imported)."""
    if backend not in KERAS_BACKENDS:
        raise ValueError(f"backend_available: backend must be one of {KERAS_BACKENDS}, got {backend!r}")
    return importlib.util.find_spec(backend) is not None


def run_keras_backends(out_dir, backends=("tensorflow", "torch"), epochs: int = 8, seed: int = 0,
                       timeout: float = 300.0) -> dict[str, dict | None]:
    """Train the same Keras model under each backend, each in its own Python process, all at once.

    The data are the digits of :func:`book.data.digits.load_digits_split` (``seed=0``, pixels in
    [0, 1]), written once to ``out_dir/digits.npz`` for the workers. The processes get
    ``KERAS_BACKEND`` set and run :func:`keras_worker`. Returns backend -> the
    worker's result dict (plus ``model``: the saved ``.keras`` path and ``logits``: its validation
    logits), or ``None`` for a backend whose package is not installed. A process that fails raises
    ``RuntimeError`` with the end of its standard error.
    """
    import numpy as np

    out = Path(out_dir)
    if not out.is_dir():
        raise ValueError(f"run_keras_backends: out_dir must be an existing folder, got {out_dir!r}")
    backends = tuple(backends)
    if not backends:
        raise ValueError("run_keras_backends: give at least one backend")
    for b in backends:
        backend_available(b)  # checks the name
    epochs = positive_int(epochs, "epochs", owner="run_keras_backends")
    seed = non_negative_int(seed, "seed", owner="run_keras_backends")
    from book.data.digits import load_digits_split

    split = load_digits_split(seed=0)
    np.savez(out / "digits.npz", X_train=split.X_train, y_train=split.y_train, X_val=split.X_val, y_val=split.y_val)
    procs = {}
    for b in backends:
        if not backend_available(b):
            continue
        env = dict(os.environ, KERAS_BACKEND=b, TF_CPP_MIN_LOG_LEVEL="3")
        procs[b] = subprocess.Popen([sys.executable, "-c", _KERAS_WORKER, str(out), b, str(epochs), str(seed)],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results: dict[str, dict | None] = {b: None for b in backends}
    for b, proc in procs.items():
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError(f"run_keras_backends: the {b} process ran longer than {timeout} s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"run_keras_backends: the {b} process failed:\n{err[-2000:]}")
        result = json.loads((out / f"{b}.json").read_text(encoding="utf-8"))
        result["model"] = out / f"{b}.keras"
        result["logits"] = np.load(out / f"{b}.npz")["logits"]
        results[b] = result
    return results


__all__ = ["FRAMEWORKS", "KERAS_BACKENDS", "OFFLINE_FLAGS", "PinCheck", "backend_available", "block_network",
           "canonical", "check_pins", "compare_versions", "default_requirements", "installed_version",
           "keras_worker", "offline_flags", "pin_summary", "read_pins", "report", "run_keras_backends"]
