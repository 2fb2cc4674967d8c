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

The Keras 3 backends demonstration (one model under TensorFlow and torch) is in
:mod:`book.training.keras_backends`.

Nothing here imports torch, TensorFlow or Keras at module level.
"""
from __future__ import annotations

import contextlib
import os
import platform
import re
import socket
import sys
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

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


__all__ = ["ALIASES", "FRAMEWORKS", "OFFLINE_FLAGS", "PinCheck", "RangeCheck", "block_network", "canonical",
           "check_pins", "check_ranges", "compare_versions", "default_pyproject", "default_requirements",
           "installed_version", "offline_flags", "pin_summary", "project_requirements", "read_pins", "report"]
