"""A bubblewrap (``bwrap``) sandbox for grading one submission.

Inside it the student's notebook, Otter and the Jupyter kernel see:

* the system (``/usr``, ``/etc`` and the merged-``/usr`` links), Python's own
  installation and the book's virtual environment, all read-only;
* a scratch folder, mounted at :data:`SCRATCH`, holding a copy of the notebook and
  of the autograder: the only writable place besides a private ``/tmp``;
* nothing else: not the checkout (only its ``.venv`` and the grading helpers in
  ``_isolated/``, read-only), not the submissions or the output folder, not the
  other students' scratch folders, not the teacher's home.

It has its own user (``nobody``, no capabilities), PID, network (loopback only),
IPC and UTS namespaces. When its first process exits, or when the runner kills
``bwrap``, the kernel tears down the PID namespace and every process still in it,
detached or not.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

ISOLATED = Path(__file__).resolve().parent / "_isolated"
ROOT = Path(__file__).resolve().parents[2]  # the checkout
SCRATCH = "/grading"  # where the scratch folder appears inside
TMP_BYTES = 512 * 2**20  # the private /tmp lives in memory; cap it
SHM_BYTES = 64 * 2**20
INSTALL_HINT = ("error: grading runs each notebook in a bubblewrap sandbox, and `bwrap` is not installed: "
                "run `sudo apt-get install bubblewrap` (Debian/Ubuntu), or grade without isolation "
                "at your own risk with GRADE_OPTS=--no-sandbox")


class SandboxError(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here."""


def bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=None)
def _options(exe: str) -> str:
    try:
        return subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _if_known(exe: str, option: str, args: list[str]) -> list[str]:
    """``args`` if this bwrap knows ``option``: 0.8 added --size and --disable-userns (Ubuntu 22.04 has 0.6)."""
    return args if option in _options(exe) else []


def _system_mounts() -> list[str]:
    # Debian keeps /bin, /lib ... as links into /usr; older layouts have real folders.
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _python_mounts() -> list[str]:
    """Python's base installation, the virtual environment and the grading helpers, read-only."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), ISOLATED}
    # A venv's python is a link to the base interpreter; make sure its target is inside.
    paths.add(Path(sys.executable).resolve().parent.parent)
    args = []
    for path in sorted(paths, key=lambda p: len(p.parts)):
        if path == Path("/usr") or Path("/usr") in path.parents:
            continue
        args += ["--ro-bind", str(path), str(path)]
    return args


def _hidden(paths) -> list[str]:
    """Empty read-only folders over ``paths`` that lie inside a folder mounted from the host.

    The checkout, the submissions and the output are normally nowhere in the
    sandbox; this covers one kept under /usr, /etc or Python's prefix.
    """
    mounted = [Path(p) for p in ("/usr", "/etc", sys.base_prefix, sys.prefix)]
    args = []
    for path in paths:
        path = Path(path).resolve()
        inside = any(path == m or m in path.parents for m in mounted)
        if inside and path.is_dir() and path != Path(sys.prefix).resolve():
            args += ["--tmpfs", str(path), "--remount-ro", str(path)]
    return args


def command(scratch: Path, argv: list[str], hide=()) -> list[str]:
    """The ``bwrap`` command line that runs ``argv`` (inside paths) with ``scratch`` as its folder.

    ``hide`` lists folders of the host that must not be visible, should a
    read-only system mount contain them.
    """
    exe = bwrap()
    if exe is None:
        raise SandboxError(INSTALL_HINT)
    return [
        exe,
        *_system_mounts(),
        # The private /tmp comes before Python's mounts: a checkout (and its .venv)
        # kept under /tmp, as CI's fresh clones may be, must stay visible on top of it.
        *_if_known(exe, "--size", ["--size", str(TMP_BYTES)]), "--tmpfs", "/tmp",
        *_hidden([ROOT, *hide]),
        *_python_mounts(),
        "--dev", "/dev",
        *_if_known(exe, "--size", ["--size", str(SHM_BYTES)]), "--tmpfs", "/dev/shm",
        "--remount-ro", "/dev",
        "--proc", "/proc",
        "--bind", str(scratch), SCRATCH,
        "--remount-ro", "/",
        "--unshare-all", "--unshare-user", *_if_known(exe, "--disable-userns", ["--disable-userns"]),
        "--uid", "65534", "--gid", "65534",
        "--hostname", "grading",
        "--new-session",  # no ioctl on the teacher's terminal
        "--die-with-parent",
        "--chdir", SCRATCH,
        "--",
        *argv,
    ]


def check(scratch: Path) -> None:
    """Start an empty sandbox once; raise :class:`SandboxError` with bwrap's own words if it fails."""
    cmd = command(scratch, [str(Path(sys.executable)), "-c", "pass"])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SandboxError(f"error: the grading sandbox (bwrap) does not start: {e}") from e
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise SandboxError(f"error: the grading sandbox (bwrap) does not start here: {why}")
