"""What a machine runs the book with, and checks that it can run it offline.

* :func:`report`: the Python version, the installed versions of the book's
  frameworks, the device line of :func:`book.describe_devices`, the offline
  flags, and (in a clone of the repository) how the installed packages compare
  with the exact pins of ``requirements.txt``.
* :func:`project_requirements`, :func:`check_ranges`: the compatible ranges the
  library declares (``pyproject.toml`` in a clone, the installed package's
  metadata otherwise) against what is installed. This is what the book needs;
  ``pip install`` enforces it.
* :func:`read_pins`, :func:`check_pins`, :func:`pin_summary`: the exact pins of
  ``requirements.txt`` (the one environment CI runs) against
  ``importlib.metadata``, for information. A library installed with pip
  (Colab, Binder) has no ``requirements.txt`` beside it; then the pins are
  ``None`` and nothing is compared.
* :func:`block_network`: a context manager that makes every attempt to open an
  internet connection fail and records it, for a "no network" self-test.
* :func:`train_keras_mlp`: train a small Keras 3 model on the digits in this
  process, under the backend Keras already uses; :func:`run_keras_backends`:
  the same under other backends, each in its own process (Keras fixes its
  backend when it is first imported).

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
# Distributions that install the same import package: a requirement on the first is met by any of them.
ALIASES = {"tensorflow": ("tensorflow", "tensorflow-cpu")}
OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
KERAS_BACKENDS = ("tensorflow", "torch", "jax")
STATUSES = ("match", "newer", "older", "missing")

_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
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
        raise ValueError("check_pins: pins must be a dict name -> version (read_pins returns one), "
                         f"got {type(pins).__name__}")
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


def default_pyproject() -> Path | None:
    """The repository's ``pyproject.toml`` next to the ``book`` folder, or ``None`` outside a clone."""
    path = Path(__file__).resolve().parent.parent / "pyproject.toml"
    return path if path.is_file() else None


def project_requirements(pyproject=None) -> dict | None:
    """What the library ``book`` declares it needs: ``{"python": ">=3.11", "requires": [...]}``.

    ``requires`` holds requirement strings as pip reads them; an optional one carries its extra as a
    marker (``'keras>=3.0; extra == "keras"'``). ``pyproject=None`` reads :func:`default_pyproject`
    in a clone, else the metadata of the installed distribution ``book`` (a pip install on Colab),
    else returns ``None`` (the folder was put on ``sys.path`` by hand).
    """
    if pyproject is None:
        pyproject = default_pyproject()
    if pyproject is not None:
        import tomllib

        path = Path(pyproject)
        if not path.is_file():
            raise ValueError(f"project_requirements: no pyproject.toml at {path}")
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
        requires = list(project.get("dependencies", []))
        for extra, lines in project.get("optional-dependencies", {}).items():
            requires += [f'{line}; extra == "{extra}"' for line in lines]
        return {"python": project.get("requires-python", ""), "requires": requires}
    try:
        dist = metadata.distribution("book")
    except metadata.PackageNotFoundError:
        return None
    return {"python": dist.metadata.get("Requires-Python") or "", "requires": list(dist.requires or [])}


class RangeCheck(NamedTuple):
    """One declared requirement: its range, the extra that asks for it (``None``: always needed), what is
    installed (``None``: missing) and whether that is fine (an optional package may be missing)."""

    name: str
    specifier: str
    extra: str | None
    installed: str | None
    ok: bool


def check_ranges(declared: dict) -> list[RangeCheck]:
    """Compare :func:`project_requirements` with this interpreter and the installed packages.

    The first row is ``python``. A requirement listed under several extras appears once, with the first
    extra. A package is found under any of its :data:`ALIASES` (``tensorflow-cpu`` meets ``tensorflow``).
    """
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    if not isinstance(declared, dict) or "requires" not in declared:
        raise ValueError(f"check_ranges: declared must be the dict project_requirements returns, got {declared!r}")
    python = ".".join(map(str, sys.version_info[:3]))
    spec = SpecifierSet(declared.get("python") or "")
    rows = [RangeCheck("python", str(spec), None, python, spec.contains(python, prereleases=True))]
    seen = set()
    for line in declared["requires"]:
        req = Requirement(line)
        extra = None
        if req.marker is not None:
            found = _EXTRA.search(str(req.marker))
            extra = found.group(1) if found else None
            if extra is None and not req.marker.evaluate():
                continue  # a requirement for another platform or Python
        name = canonical(req.name)
        if (name, str(req.specifier)) in seen:
            continue
        seen.add((name, str(req.specifier)))
        installed = installed_version(*ALIASES.get(name, (name,)))
        if installed is None:
            ok = extra is not None
        else:
            ok = req.specifier.contains(installed, prereleases=True)
        rows.append(RangeCheck(name, str(req.specifier), extra, installed, ok))
    return rows


def offline_flags() -> dict[str, str | None]:
    """The values of the environment variables that keep Hugging Face libraries off the network."""
    return {flag: os.environ.get(flag) for flag in OFFLINE_FLAGS}


def report(requirements=None, pyproject=None) -> dict:
    """Everything a bug report about the book should say about the machine.

    Keys: ``python`` (``"3.11"``), ``platform``, ``packages`` (framework -> installed version or
    ``None``), ``devices`` (the ``Devices: ...`` line; imports torch, and TensorFlow if installed),
    ``offline`` (:func:`offline_flags`), ``ranges`` (:func:`check_ranges` of
    :func:`project_requirements`, or ``None`` when neither a ``pyproject.toml`` nor an installed
    ``book`` says), ``requirements`` (the pins file read, or ``None``) and ``pins`` (:func:`check_pins`
    of it, or ``None`` when there is no file).
    """
    from book.device import describe_devices

    path = default_requirements() if requirements is None else Path(requirements)
    pins = None if path is None else check_pins(read_pins(path))
    declared = project_requirements(pyproject)
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "platform": f"{platform.system()} {platform.machine()}",
        "packages": {name: installed_version(*dists) for name, dists in FRAMEWORKS.items()},
        "devices": describe_devices(),
        "offline": offline_flags(),
        "ranges": None if declared is None else check_ranges(declared),
        "requirements": path,
        "pins": pins,
    }


@contextlib.contextmanager
def block_network():
    """Inside the block, every internet connection fails with ``OSError`` before a packet leaves.

    Yields a list that records each attempt (a host name looked up, or an address connected or sent to).
    Name look-ups (``getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``) and the connections and
    datagrams of IPv4 and IPv6 sockets are refused; local Unix sockets still work. On exit, also after
    an error, the ``socket`` module is left exactly as it was found. Not seen: sockets opened below
    Python (C extensions), other processes, and code that copied a function out of ``socket`` before
    the block (``from socket import getaddrinfo``). The patch is process-wide: other threads are
    blocked too while the block runs.
    """
    attempts: list = []
    internet = (socket.AF_INET, socket.AF_INET6)
    cls = socket.socket
    real = {name: getattr(cls, name) for name in ("connect", "connect_ex", "sendto")}

    def refuse(what):
        attempts.append(what)
        raise OSError(f"network blocked by book.environment.block_network: {what!r}")

    def connect(self, address):
        if self.family in internet:
            refuse(address)
        return real["connect"](self, address)

    def connect_ex(self, address):
        if self.family in internet:
            refuse(address)
        return real["connect_ex"](self, address)

    def sendto(self, data, *flags_and_address):
        if self.family in internet:
            refuse(flags_and_address[-1])
        return real["sendto"](self, data, *flags_and_address)

    def look_up(host, *args, **kwargs):
        refuse(host)

    # (owner, name, replacement): what was in the owner's own __dict__ is put back; what was inherited
    # (socket.socket.connect comes from _socket.socket) is deleted again.
    patches = [(cls, "connect", connect), (cls, "connect_ex", connect_ex), (cls, "sendto", sendto)]
    patches += [(socket, name, look_up) for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex")]
    missing, applied = object(), []
    try:
        for owner, name, replacement in patches:
            original = vars(owner).get(name, missing)
            setattr(owner, name, replacement)
            applied.append((owner, name, original))
        yield attempts
    finally:
        for owner, name, original in reversed(applied):
            if original is missing:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


# The program each Keras process runs: argv = out_dir, backend, epochs, seed.
_KERAS_WORKER = """
import sys
from book.environment import keras_worker
keras_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
"""


def write_keras_digits(out_dir) -> Path:
    """Write the digits of :func:`book.data.digits.load_digits_split` (``seed=0``, pixels in [0, 1]) to
    ``out_dir/digits.npz``, where :func:`train_keras_mlp` reads them. Returns the path."""
    import numpy as np

    from book.data.digits import load_digits_split

    out = Path(out_dir)
    if not out.is_dir():
        raise ValueError(f"write_keras_digits: out_dir must be an existing folder, got {out_dir!r}")
    split = load_digits_split(seed=0)
    np.savez(out / "digits.npz", X_train=split.X_train, y_train=split.y_train, X_val=split.X_val, y_val=split.y_val)
    return out / "digits.npz"


def _read_result(out: Path, backend: str) -> dict:
    import numpy as np

    result = json.loads((out / f"{backend}.json").read_text(encoding="utf-8"))
    result["model"] = out / f"{backend}.keras"
    with np.load(out / f"{backend}.npz") as data:
        result["logits"] = data["logits"]
    return result


def train_keras_mlp(out_dir, epochs: int = 8, seed: int = 0) -> dict:
    """Train a 64-32-10 Keras MLP on the digits in this process, under the backend Keras uses here.

    Reads ``out_dir/digits.npz`` (written by :func:`write_keras_digits` if it is not there; a worker
    process finds it ready and imports no scikit-learn). Seeds with ``keras.utils.set_random_seed``,
    which reseeds Python's, NumPy's and the backend's global generators. Trains with Adam for
    ``epochs`` epochs in batches of 64, then writes ``{backend}.keras`` (the model),
    ``{backend}.npz`` (its logits on the validation images) and ``{backend}.json``.

    Then every model that another backend left in ``out_dir`` (``{other}.keras`` with its
    ``{other}.npz``) is loaded here and run on the validation images: ``reload_gaps`` maps ``other`` to
    the largest absolute difference between the logits computed here and there.

    Returns the JSON's dict (``backend`` as Keras reports it, the Keras version, the types of a weight
    and of an output, the first and last training loss, the validation accuracy, ``reload_gaps``)
    plus ``model`` (the ``.keras`` path) and ``logits``.
    """
    import numpy as np

    import keras

    out = Path(out_dir)
    if not out.is_dir():
        raise ValueError(f"train_keras_mlp: out_dir must be an existing folder, got {out_dir!r}")
    epochs = positive_int(epochs, "epochs", owner="train_keras_mlp")
    seed = non_negative_int(seed, "seed", owner="train_keras_mlp")
    if not (out / "digits.npz").is_file():
        write_keras_digits(out)
    backend = keras.backend.backend()
    keras.utils.set_random_seed(seed)
    with np.load(out / "digits.npz") as data:
        X_train, y_train, X_val, y_val = (data[k] for k in ("X_train", "y_train", "X_val", "y_val"))
    model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=64, verbose=0, shuffle=True)
    logits = np.asarray(model.predict(X_val, verbose=0))
    output = model(X_val[:2])
    kernel = model.layers[0].kernel.value
    model.save(out / f"{backend}.keras")
    np.savez(out / f"{backend}.npz", logits=logits)
    reload_gaps = {}
    for other in sorted(out.glob("*.keras")):
        if other.stem != backend and (out / f"{other.stem}.npz").is_file():
            with np.load(out / f"{other.stem}.npz") as data:
                theirs = data["logits"]
            ours = np.asarray(keras.saving.load_model(other).predict(X_val, verbose=0))
            reload_gaps[other.stem] = float(np.abs(ours - theirs).max())
    result = {
        "backend": backend,
        "keras": keras.__version__,
        "weight_type": f"{type(kernel).__module__}.{type(kernel).__name__}",
        "output_type": f"{type(output).__module__}.{type(output).__name__}",
        "first_loss": float(history.history["loss"][0]),
        "last_loss": float(history.history["loss"][-1]),
        "val_acc": float(np.mean(logits.argmax(1) == y_val)),
        "reload_gaps": reload_gaps,
    }
    (out / f"{backend}.json").write_text(json.dumps(result), encoding="utf-8")
    return _read_result(out, backend)


def keras_worker(out_dir, backend: str, epochs: int, seed: int) -> None:
    """Run in a fresh process with ``KERAS_BACKEND=backend``: one thread for the engine, then
    :func:`train_keras_mlp`. Raises ``RuntimeError`` if Keras came up on another backend."""
    if backend == "tensorflow":  # threads first: TensorFlow fixes them when its runtime starts
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.set_num_threads(1)
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"keras_worker: asked for {backend!r}, Keras runs on {keras.backend.backend()!r}")
    train_keras_mlp(out_dir, epochs, seed)


def backend_available(backend: str) -> bool:
    """Whether the Python package behind a Keras backend is installed (looked up, not imported)."""
    if backend not in KERAS_BACKENDS:
        raise ValueError(f"backend_available: backend must be one of {KERAS_BACKENDS}, got {backend!r}")
    return importlib.util.find_spec(backend) is not None


def run_keras_backends(out_dir, backends=("tensorflow", "torch"), epochs: int = 8, seed: int = 0,
                       timeout: float = 300.0) -> dict[str, dict | None]:
    """Train the same Keras model under each backend, each in its own Python process, one after another.

    Writes the digits with :func:`write_keras_digits`, then starts for each backend a process with
    ``KERAS_BACKEND`` set that runs :func:`keras_worker`, which runs :func:`train_keras_mlp`: so each
    also reloads the models that earlier backends (in the notebook or in a process) saved in
    ``out_dir``. Returns backend -> the worker's result dict (with ``model`` and ``logits``), or
    ``None`` for a backend whose package is not installed. A process that fails raises
    ``RuntimeError`` with the end of its standard error.
    """
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
    write_keras_digits(out)
    results: dict[str, dict | None] = {b: None for b in backends}
    for b in backends:
        if not backend_available(b):
            continue
        env = dict(os.environ, KERAS_BACKEND=b, TF_CPP_MIN_LOG_LEVEL="3")
        try:
            proc = subprocess.run([sys.executable, "-c", _KERAS_WORKER, str(out), b, str(epochs), str(seed)],
                                  env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"run_keras_backends: the {b} process ran longer than {timeout} s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"run_keras_backends: the {b} process failed:\n{proc.stderr[-2000:]}")
        results[b] = _read_result(out, b)
    return results


__all__ = ["ALIASES", "FRAMEWORKS", "KERAS_BACKENDS", "OFFLINE_FLAGS", "PinCheck", "RangeCheck", "backend_available",
           "block_network", "canonical", "check_pins", "check_ranges", "compare_versions", "default_pyproject",
           "default_requirements", "installed_version", "keras_worker", "offline_flags", "pin_summary",
           "project_requirements", "read_pins", "report", "run_keras_backends", "train_keras_mlp",
           "write_keras_digits"]
