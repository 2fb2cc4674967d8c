"""Grade a folder of submitted notebooks with ``otter run``, one sandbox per student.

``make grade ASSIGNMENT=02-linear-models SUBMISSIONS=<dir> OUT=<dir>`` calls
:func:`grade_folder`. Every ``*.ipynb`` under ``SUBMISSIONS`` is one student: a
notebook directly in the folder is named after its file (``alice.ipynb`` is
``alice``), a notebook inside a sub-folder after the sub-folder (``bob/hw.ipynb``
is ``bob``). Each one is copied, under the assignment's own notebook name and
with a copy of the autograder, into a scratch folder, and graded there by
``otter run`` (``otter.run.main``), two at a time, each in a bubblewrap sandbox
(:mod:`tools.grading.sandbox`): the system read-only, the scratch folder and a
private ``/tmp`` the only writable places, no network, its own PID namespace.
Nothing of the submissions folder, the output folder, the checkout or the other
students' work is visible inside. Each grading

* has a hard wall-clock limit; on expiry the sandbox is killed, and with it every
  process the notebook started, detached or not;
* has its address space capped with ``RLIMIT_AS``, which the kernel inherits, so
  a huge allocation fails with ``MemoryError``;
* loads ``book_cell_guard`` into the kernel, a per-cell timeout and tamper repair
  (see that module);
* keeps a bounded amount of output: the notebook's outputs are capped inside,
  and the grading log keeps the first and last megabyte of what was printed.

Only this process writes the results, from the files the sandbox leaves in the
scratch folder (each read with a size cap): ``<OUT>/grades.csv`` has ``student``,
one column per question, ``total``, ``status`` (``ok``, ``error`` or ``timeout``)
and ``reason``. A submission that cannot be graded still gets its row (all
zeros). Otter's ``results.json``, the grading log and the cell events of each
student are kept in ``<OUT>/details/<student>/``. Running again overwrites both.

Without bubblewrap, :func:`grade_folder` refuses to start unless told
``sandbox=False``: then each notebook runs in a process forked from a warm fork
server, with the same limits but none of the isolation, and every row says so.
See the teacher guide (``chapters/teaching.md``) for what the sandbox does not do.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools.grading import sandbox

ISOLATED = sandbox.ISOLATED
CHILD = ISOLATED / "otter_child.py"
GUARD_MODULE = "book_cell_guard"
STUDENT_ID = "book-student-"  # must match otter_child.STUDENT_ID

DEFAULT_TIMEOUT = 120.0  # seconds for one whole submission
DEFAULT_CELL_TIMEOUT = 20.0  # seconds for one cell
DEFAULT_MEMORY = 4 * 2**30  # bytes of address space for the grading processes
REASON_CHARS = 400
LOG_HEAD = LOG_TAIL = 2**20  # bytes of the grading log kept from its start and its end
OUTPUT_BYTES = 2 * 2**20  # notebook output kept by Otter's executor, in total
NOTEBOOK_BYTES = 50 * 2**20  # a larger file is not read
RESULT_BYTES = 8 * 2**20  # results.json or cell events larger than this are not trusted
UNSANDBOXED = "graded without the sandbox"

STATUSES = ("ok", "error", "timeout")


# --------------------------------------------------------------------------- #
# Child processes
# --------------------------------------------------------------------------- #
def ipython_dir(root: Path) -> Path:
    """An IPython directory whose kernel config loads the cell guard; created under ``root``."""
    profile = root / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text(
        f"c.InteractiveShellApp.extensions = [{GUARD_MODULE!r}]\n", encoding="utf-8"
    )
    return root / "ipython"


def _common_env(cell_timeout: float) -> dict:
    env = {
        "BOOK_GRADING_CELL_TIMEOUT": str(cell_timeout),
        "MPLBACKEND": "Agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"  # two graders in parallel on two cores; also keeps sums reproducible
    return env


def child_env(ipython: Path, *, cell_timeout: float, files: dict | None = None) -> dict:
    """Environment for an unsandboxed Otter process (``otter assign``, ``--no-sandbox``): ours, plus the guard."""
    env = dict(os.environ)
    for var in [v for v in env if v.startswith("BOOK_GRADING_")]:
        del env[var]
    env["IPYTHONDIR"] = str(ipython)
    env["PYTHONPATH"] = os.pathsep.join([str(ISOLATED)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    # The environment's own kernel spec first, whatever a user has registered.
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(Path(sys.prefix) / "share" / "jupyter")] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    )
    env.update(_common_env(cell_timeout))
    env.update(files or {})
    return env


def sandbox_env(*, cell_timeout: float, files: dict) -> dict:
    """Environment inside the sandbox: built from nothing, so no variable of the teacher's gets in."""
    home = f"{sandbox.SCRATCH}/home"
    env = {
        "PATH": os.pathsep.join([str(Path(sys.prefix) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home,
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONPATH": str(ISOLATED),
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": f"{sandbox.SCRATCH}/ipython",
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
        "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "MPLCONFIGDIR": "/tmp/matplotlib",
    }
    env.update(_common_env(cell_timeout))
    env.update(files)
    return env


class _BoundedLog:
    """Copy a stream into a file, keeping its first ``LOG_HEAD`` and last ``LOG_TAIL`` bytes."""

    def __init__(self, stream, path: Path):
        self.stream, self.path = stream, path
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        tail, tail_bytes, dropped = deque(), 0, 0
        with open(self.path, "wb") as out:
            written = 0
            while chunk := self.stream.read1(65536):
                if written < LOG_HEAD:
                    part = chunk[: LOG_HEAD - written]
                    out.write(part)
                    written += len(part)
                    chunk = chunk[len(part):]
                if chunk:
                    tail.append(chunk)
                    tail_bytes += len(chunk)
                    while tail_bytes - len(tail[0]) >= LOG_TAIL:
                        dropped += len(tail[0])
                        tail_bytes -= len(tail[0])
                        tail.popleft()
            if dropped:
                out.write(f"\n[... {dropped} bytes of output left out ...]\n".encode())
            out.writelines(tail)

    def close(self):
        self.thread.join(30)
        self.stream.close()


def trim_log(path: Path) -> None:
    """Cut a log written straight to a file down to its first and last megabyte."""
    try:
        size = path.stat().st_size
    except OSError:
        return
    if size <= LOG_HEAD + LOG_TAIL:
        return
    with open(path, "rb") as f:
        head = f.read(LOG_HEAD)
        f.seek(size - LOG_TAIL)
        tail = f.read(LOG_TAIL)
    path.write_bytes(head + f"\n[... {size - LOG_HEAD - LOG_TAIL} bytes of output left out ...]\n".encode() + tail)


def _supervise(cmd: list[str], *, cwd: Path, env: dict, timeout: float, log: Path, grace: float) -> tuple[int | None, float]:
    """Run ``cmd`` in a session of its own with a bounded log; after ``timeout`` s, SIGTERM, then SIGKILL.

    Returns (exit code, or None when it was stopped, and the seconds it ran).
    """
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    pump = _BoundedLog(proc.stdout, log)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        seconds = time.monotonic() - start
        pump.close()
    return code, seconds


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass


def run_child(args: list[str], *, cwd: Path, env: dict, timeout: float, memory: int, log: Path) -> tuple[int | None, float]:
    """Run ``otter_child.py ARGS`` unsandboxed with limits (``otter assign``); return (exit code or None, seconds).

    On timeout the child first gets SIGTERM, on which it ends the kernel and
    everything else it started, then its process group gets SIGKILL.
    """
    cmd = [sys.executable, str(CHILD), "--memory", str(int(memory)), *args]
    return _supervise(cmd, cwd=cwd, env=env, timeout=timeout, log=log, grace=5.0)


def run_sandboxed(args: list[str], *, scratch: Path, env: dict, timeout: float, memory: int, log: Path,
                  hide=()) -> tuple[int | None, float]:
    """Run ``otter_child.py ARGS`` in a sandbox around ``scratch``; ``args`` use the paths seen inside.

    Killing ``bwrap`` ends its PID namespace, so on timeout no grace is needed.
    """
    inner = [sys.executable, str(CHILD), "--memory", str(int(memory)), *args]
    cmd = sandbox.command(scratch, inner, hide)
    return _supervise(cmd, cwd=scratch, env=env, timeout=timeout, log=log, grace=0.0)


_FORKSERVER = None
_FORKSERVER_LOCK = threading.Lock()


def _forkserver_context():
    """A multiprocessing context whose fork server has imported Otter once (``otter_preload``)."""
    global _FORKSERVER
    with _FORKSERVER_LOCK:
        if _FORKSERVER is None:
            import multiprocessing

            if str(ISOLATED) not in sys.path:
                sys.path.append(str(ISOLATED))
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["otter_preload"])
            _FORKSERVER = ctx
    return _FORKSERVER


def run_forked(args: list[str], *, cwd: Path, env: dict, timeout: float, memory: int, log: Path) -> tuple[int | None, float]:
    """Like :func:`run_child`, but forked from a warm fork server (grading without the sandbox).

    Same limits and the same SIGTERM-then-SIGKILL on timeout. (As with any
    ``multiprocessing`` start method but fork, the caller's main module must be
    importable: run through ``python -m tools.grading``, pytest or a script.)
    """
    ctx = _forkserver_context()
    import otter_child  # light: the heavy imports happened in the fork server

    proc = ctx.Process(target=otter_child.child_main, args=(args, env, str(cwd), str(log), int(memory)))
    start = time.monotonic()
    proc.start()
    proc.join(timeout)
    code = proc.exitcode
    if proc.is_alive():
        code = None
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except OSError:
            pass
        proc.join(5.0)
        _signal_group(proc.pid, signal.SIGKILL)
        if proc.is_alive():
            proc.kill()  # killed before it could start its session
        proc.join()
    seconds = time.monotonic() - start
    proc.close()
    trim_log(log)
    return code, seconds


# --------------------------------------------------------------------------- #
# Autograder and submissions
# --------------------------------------------------------------------------- #
def find_autograder_zip(path: Path) -> Path:
    """The Otter autograder zip in ``path``: the zip itself, an ``autograder`` folder or its parent."""
    path = Path(path)
    if path.is_file() and path.suffix == ".zip":
        return path
    if path.is_dir():
        for folder in (path, path / "autograder"):
            zips = sorted(folder.glob("*-autograder_*.zip"), key=lambda p: p.stat().st_mtime)
            if zips:
                return zips[-1]
    raise FileNotFoundError(f"no Otter autograder zip (*-autograder_*.zip) in {path}")


@dataclass
class Question:
    name: str
    points: float


def read_questions(ag_zip: Path) -> list[Question]:
    """Question names and point values, as Otter itself reads them from the zip's test files."""
    sys.modules.setdefault("rfc3987_syntax", None)  # see otter_preload
    from otter.test_files import create_test_file

    questions = []
    with zipfile.ZipFile(ag_zip) as zf, tempfile.TemporaryDirectory(prefix="book-tests-") as tmp:
        members = [m for m in zf.namelist() if m.startswith("tests/") and m.endswith(".py")]
        for member in members:
            test_file = create_test_file(zf.extract(member, tmp), None)
            questions.append(Question(test_file.name, float(test_file.possible)))
    return sorted(questions, key=lambda q: _natural_key(q.name))


def _natural_key(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def find_submissions(root: Path) -> list[tuple[str, Path | None, str]]:
    """``(student, notebook or None, problem)`` for every student under ``root``.

    ``alice.ipynb`` directly under ``root`` is ``alice``; ``bob/<anything>.ipynb``
    is ``bob``. A folder with no notebook, or with several, gets a problem instead.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder not found: {root}")
    found = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.append((entry.stem, entry, ""))
        elif entry.is_dir():
            nbs = sorted(p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            if len(nbs) == 1:
                found.append((entry.name, nbs[0], ""))
            elif not nbs:
                found.append((entry.name, None, "no .ipynb file in the folder"))
            else:
                names = ", ".join(str(p.relative_to(entry)) for p in nbs)
                found.append((entry.name, None, f"more than one notebook in the folder ({names})"))
    return found


# --------------------------------------------------------------------------- #
# One submission
# --------------------------------------------------------------------------- #
@dataclass
class Row:
    student: str
    scores: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    reason: str = ""
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def _fmt(x: float) -> str:
    return f"{x:g}"


def _prepare(src: Path, dest: Path, assignment: str | None = None) -> tuple[dict | None, str]:
    """Read the submission, normalise what breaks Otter, write it to ``dest``.

    Returns ``(notebook as JSON, problem)``; ``problem`` is non-empty when the
    file is not a notebook at all. The kernel spec is set to this environment's
    ``python3``; Otter's assignment name is added when the notebook lost it (a
    student who copied the cells into a new notebook), but a notebook made for a
    different assignment keeps its name and Otter rejects it. Every code cell
    gets the id ``book-student-N`` (N counts code cells from 1): that is how the
    grading process tells the student's cells from those Otter adds.
    """
    import nbformat

    try:
        if src.stat().st_size > NOTEBOOK_BYTES:
            return None, f"the file is larger than {NOTEBOOK_BYTES // 2**20} MB"
        raw = src.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot read the file ({type(e).__name__})"
    try:
        nb = nbformat.reads(raw, as_version=4)
    except Exception as e:  # NotJSONError, a JSON error, a schema error
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return None, f"not a valid notebook file ({first[:120]})"
    if not isinstance(nb.get("cells"), list):
        return None, "not a valid notebook file (no cells)"
    # Students run other kernels; grading always uses this environment's python3.
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if assignment:
        otter_meta = nb.metadata.setdefault("otter", {})
        otter_meta.setdefault("assignment_name", assignment)
    nb.nbformat_minor = max(nb.get("nbformat_minor", 0), 5)  # cell ids need nbformat 4.5
    number = 0
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"book-cell-{i}"
        if cell.get("cell_type") == "code":
            number += 1
            cell["id"] = f"{STUDENT_ID}{number}"
            cell["outputs"] = []
            cell["execution_count"] = None
    nbformat.write(nb, dest)
    return nb, ""


def _code_cells(nb) -> list[str]:
    return [c.get("source", "") for c in nb.cells if c.get("cell_type") == "code"]


def _where(nb, record: dict) -> str:
    """'code cell N (`first line`)' for the student's cell N named by an event."""
    number = record.get("cell")
    if isinstance(number, str):
        return "one of Otter's test cells"
    cells = _code_cells(nb)
    if not isinstance(number, int) or not 1 <= number <= len(cells):
        return "a cell"
    first = next((ln.strip() for ln in cells[number - 1].splitlines() if ln.strip()), "")
    if len(first) > 40:
        first = first[:37] + "..."
    return f"code cell {number} (`{first}`)"


def _read_scratch(work: Path, relative: str, limit: int) -> bytes | None:
    """A file the sandbox left in ``work``, or None when missing, not a plain file or over ``limit`` bytes.

    Links are not followed, at any level: the notebook could have replaced a file
    or a folder of its scratch folder by a link to a file of the teacher's.
    """
    parts = Path(relative).parts
    fds = []
    try:
        fds.append(os.open(work, os.O_RDONLY | os.O_DIRECTORY))
        for folder in parts[:-1]:
            fds.append(os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fds[-1]))
        fds.append(os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fds[-1]))
        info = os.fstat(fds[-1])
        if not (info.st_mode & 0o170000 == 0o100000) or info.st_size > limit:
            return None
        with os.fdopen(os.dup(fds[-1]), "rb") as f:
            return f.read(limit)
    except OSError:
        return None
    finally:
        for fd in fds:
            os.close(fd)


def _parse_events(raw: bytes | None) -> list[dict]:
    events = []
    for line in (raw or b"").decode("utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _parse_results(raw: bytes | None) -> dict | None:
    """Otter's results.json if it has the expected shape, else None."""
    try:
        results = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(results, dict) or not isinstance(results.get("tests"), list):
        return None
    if not all(isinstance(t, dict) for t in results["tests"]):
        return None
    return results


def _score(test: dict, points: float) -> float:
    """A test's score, kept within [0, the question's points from the teacher's zip]."""
    try:
        score = float(test.get("score") or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return min(max(score, 0.0), points) if score == score else 0.0


def _cells_from_events(events: list[dict]) -> list[dict]:
    """Pair start/end records: one dict per executed cell (``end`` is None if it never finished)."""
    cells, current = [], None
    for e in events:
        kind = e.get("event")
        if kind == "start":
            current = {"start": e, "end": None, "timeout": False, "repaired": []}
            cells.append(current)
        elif current is not None and kind == "timeout":
            current["timeout"] = True
        elif current is not None and kind == "repaired":
            current["repaired"].extend(str(n) for n in e.get("names", []) if isinstance(n, str))
        elif current is not None and kind == "end":
            current["end"] = e
            current = None
    return cells


def _failed_tests(results: dict, questions: list[Question]) -> list[str]:
    notes = []
    for test in results.get("tests", []):
        name = test.get("name")
        if name not in {q.name for q in questions}:
            continue
        if test.get("score", 0) >= test.get("max_score", 0):
            continue
        message = _first_failure(str(test.get("output", "")))
        if len(message) > 90:
            message = message[:87] + "..."
        notes.append(f"{name}: {message}" if message else f"{name} failed")
    return notes


def _first_failure(output: str) -> str:
    """The exception line of the first failed test case in Otter's summary text."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if "Test case failed" in line:
            for nxt in lines[i + 1 :]:
                m = re.match(r"\s*([A-Za-z_][\w.]*(?:Error|Exception|Timeout|Interrupt)): ?(.*)$", nxt)
                if m:
                    kind, msg = m.groups()
                    if kind == "AssertionError" and msg:
                        return msg.strip()
                    return f"{kind}: {msg.strip()}" if msg else kind
            return "a test failed"
    return ""


@dataclass
class Job:
    """What grading one submission needs besides the submission itself."""

    ag_zip: Path
    questions: list[Question]
    canonical: str
    work_root: Path
    timeout: float
    cell_timeout: float
    memory: int
    sandboxed: bool = True
    hide: tuple = ()  # the submissions and output folders


def grade_one(student: str, src: Path | None, problem: str, job: Job, details: Path) -> Row:
    """Grade one student's notebook; never raises."""
    row = Row(student, {q.name: 0.0 for q in job.questions})
    try:
        _grade_one(row, src, problem, job, details)
    except Exception as e:  # a bug here must not lose the row
        row.status, row.reason = "error", f"grader failure: {type(e).__name__}: {e}"
    if not job.sandboxed:
        row.reason = UNSANDBOXED + (f"; {row.reason}" if row.reason else "")
    row.reason = row.reason[:REASON_CHARS]
    return row


def _grade_one(row: Row, src: Path | None, problem: str, job: Job, details: Path) -> None:
    details.mkdir(parents=True, exist_ok=True)
    if src is None:
        row.status, row.reason = "error", problem
        return
    work = Path(tempfile.mkdtemp(prefix="sub-", dir=job.work_root))
    try:
        assignment = job.canonical[: -len(".ipynb")] if job.canonical.endswith(".ipynb") else None
        nb, problem = _prepare(src, work / job.canonical, assignment)
        if nb is None:
            row.status, row.reason = "error", problem
            return
        code, log, row.seconds = _run_otter(work, job, details)
        raw_events = _keep(work, "events.jsonl", details / "cell-events.jsonl")
        raw_results = _keep(work, "out/results.json", details / "results.json")
        _judge(row, nb, src, code, _parse_events(raw_events), _parse_results(raw_results), log, job)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_otter(work: Path, job: Job, details: Path) -> tuple[int | None, Path, float]:
    """Run ``otter run`` on the notebook in ``work``; return its exit code (None: killed), the log, the seconds."""
    shutil.copy(job.ag_zip, work / "autograder.zip")
    ipython_dir(work)
    for folder in ("out", "home"):
        (work / folder).mkdir()
    inside = (lambda p: f"{sandbox.SCRATCH}/{p}") if job.sandboxed else (lambda p: str(work / p))
    files = {
        "BOOK_GRADING_EVENTS": inside("events.jsonl"),
        "BOOK_GRADING_ROLES": inside("roles.json"),
        "BOOK_GRADING_OUTPUT_BYTES": str(OUTPUT_BYTES),
    }
    args = ["run", "--no-logo", "-a", inside("autograder.zip"), "-o", inside("out"), inside(job.canonical)]
    log = details / "otter-run.log"
    for _ in range(1 + KERNEL_START_RETRIES):
        for name in ("events.jsonl", "roles.json"):
            (work / name).unlink(missing_ok=True)
        if job.sandboxed:
            env = sandbox_env(cell_timeout=job.cell_timeout, files=files)
            code, seconds = run_sandboxed(args, scratch=work, env=env, timeout=job.timeout, memory=job.memory,
                                          log=log, hide=job.hide)
        else:
            env = child_env(work / "ipython", cell_timeout=job.cell_timeout, files=files)
            code, seconds = run_forked(args, cwd=work, env=env, timeout=job.timeout, memory=job.memory, log=log)
        if code == 0 or (work / "events.jsonl").exists() or not _kernel_failed_to_start(log):
            break
        # Unsandboxed, Jupyter picks a free TCP port, closes it and hands it to the kernel;
        # another process can take it in between. No student code has run yet, so grading
        # again is safe. (In the sandbox each kernel has a network of its own.)
    return code, log, seconds


def _keep(work: Path, name: str, dest: Path) -> bytes | None:
    """Copy a file the sandbox left (see :func:`_read_scratch`) into the details; return its bytes."""
    raw = _read_scratch(work, name, RESULT_BYTES)
    if raw is not None:
        dest.write_bytes(raw)
    return raw


def _judge(row: Row, nb, src: Path, code: int | None, events: list[dict], results: dict | None, log: Path,
           job: Job) -> None:
    """Fill in the row's scores, status and reason from what came out of the grading."""
    points = {q.name: q.points for q in job.questions}
    if code == 0 and results is not None:
        if any(t.get("name") == "Autograder Failed" for t in results["tests"]):
            results = None  # Otter read no results: the notebook never reached its last cell
        else:
            for test in results["tests"]:
                if test.get("name") in points:
                    row.scores[test["name"]] = _score(test, points[test["name"]])
    else:
        results = None
    cells = _cells_from_events(events)
    unfinished = next((c for c in cells if c["end"] is None), None)
    timed_out = [c for c in cells if c["timeout"]]
    errors = [c for c in cells if c["end"] is not None and c["end"].get("error") and not c["start"].get("grader")]
    repaired = sorted({n for c in cells for n in c["repaired"]})
    notes = []
    if code is None:
        row.status = "timeout"
        where = f" while running {_where(nb, unfinished['start'])}" if unfinished else ""
        notes.append(f"killed after the {job.timeout:g} s limit for the whole notebook{where}")
    elif results is None:
        row.status = "error"
        if unfinished is not None:
            notes.append(f"the kernel died while running {_where(nb, unfinished['start'])} "
                         "(os._exit, a crash, or the memory limit)")
        else:
            notes.append("Otter could not grade the notebook: " + _last_error_line(log))
    elif timed_out:
        row.status = "timeout"
        for c in timed_out[:2]:
            if c["start"].get("grader"):
                notes.append(f"a test ran past the {job.cell_timeout:g} s cell limit (a function that does not return?)")
            else:
                notes.append(f"{_where(nb, c['start'])} ran past the {job.cell_timeout:g} s cell limit")
    elif errors:
        row.status = "error"
        c = errors[0]
        error = str(c["end"]["error"]).splitlines()[0][:160]
        more = f" (+{len(errors) - 1} more cells with errors)" if len(errors) > 1 else ""
        memory = f"out of memory (limit {job.memory / 2**30:g} GiB): " if error.startswith("MemoryError") else ""
        notes.append(f"{memory}{_where(nb, c['start'])} raised {error}{more}")
    if repaired:
        notes.append("tampering: the notebook replaced " + ", ".join(repaired[:4]) + (" ..." if len(repaired) > 4 else "")
                     + "; restored before the tests ran")
    if results is not None and not any(c["start"].get("cell") == "final" for c in cells):
        notes.append("tampering: the kernel's record of its cells was rewritten (status and reason may be wrong)")
    leftovers = _leftovers(log)
    if leftovers:
        notes.append(f"left {leftovers} process(es) running after its kernel stopped (ended)")
    if results is not None:
        notes.extend(_failed_tests(results, job.questions))
    sources = "\n".join(_code_cells(nb))
    missing = [q.name for q in job.questions
               if f'grader.check("{q.name}")' not in sources and f"grader.check('{q.name}')" not in sources]
    if missing and results is not None:
        notes.append(f"no grader.check cell for {', '.join(missing)} (graded anyway)")
    if src.name != job.canonical and src.parent.name == row.student and src.stem != row.student:
        notes.append(f"notebook renamed to {src.name!r}; graded as {job.canonical!r}")
    row.reason = "; ".join(notes)


KERNEL_START_RETRIES = 2
LEFTOVERS = re.compile(rb"\[book grading\] ended (\d+) process")


def _log_tail(log: Path, size: int = 65536) -> bytes:
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - size))
            return f.read()
    except OSError:
        return b""


def _leftovers(log: Path) -> int:
    found = LEFTOVERS.findall(_log_tail(log))
    return int(found[-1]) if found else 0


def _kernel_failed_to_start(log: Path) -> bool:
    text = _log_tail(log).decode("utf-8", errors="replace")
    return any(m in text for m in ("Address already in use", "Kernel died before replying to kernel_info",
                                   "Kernel didn't respond in"))


def _last_error_line(log: Path) -> str:
    lines = [ln.strip() for ln in _log_tail(log).decode("utf-8", errors="replace").splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("[book grading]")]
    for line in reversed(lines):
        if re.match(r"[A-Za-z_][\w.]*(Error|Exception)\b", line):
            return line[:200]
    return lines[-1][:200] if lines else "no output"


# --------------------------------------------------------------------------- #
# A whole folder
# --------------------------------------------------------------------------- #
def canonical_name(ag_zip: Path, default: str) -> str:
    """The notebook file name the assignment was built from (from the zip's config)."""
    with zipfile.ZipFile(ag_zip) as zf:
        try:
            config = json.loads(zf.read("otter_config.json"))
        except KeyError:
            config = {}
    name = config.get("assignment_name")
    return f"{name}.ipynb" if name else default


def _safe(name: str) -> str:
    return re.sub(r"[^\w.@+-]+", "_", name).strip("._") or "student"


def write_csv(rows: list[Row], questions: list[Question], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", *[q.name for q in questions], "total", "status", "reason"])
        for r in sorted(rows, key=lambda r: r.student):
            w.writerow([r.student, *[_fmt(r.scores.get(q.name, 0.0)) for q in questions], _fmt(r.total), r.status, r.reason])
    os.replace(tmp, path)


def grade_folder(
    ag_zip: Path,
    submissions: Path,
    out: Path,
    *,
    workers: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    memory: int = DEFAULT_MEMORY,
    sandboxed: bool = True,
    progress=None,
) -> list[Row]:
    """Grade every submission under ``submissions``; write ``out/grades.csv``; return the rows.

    Raises :class:`sandbox.SandboxError` when ``sandboxed`` and bubblewrap is
    missing or cannot start here; nothing is graded then.
    """
    ag_zip = Path(ag_zip).resolve()
    out = Path(out).resolve()
    questions = read_questions(ag_zip)
    if not questions:
        raise ValueError(f"no questions found in {ag_zip}")
    found = find_submissions(Path(submissions))
    keys, seen = [], {}
    for student, _, _ in found:  # a folder name for each student's details, unique
        key = _safe(student)
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}-{seen[key]}")
    with tempfile.TemporaryDirectory(prefix="book-grading-") as tmp:
        tmp = Path(tmp)
        if sandboxed:
            sandbox.check(tmp)
        details_root = out / "details"
        if details_root.exists():
            shutil.rmtree(details_root)
        job = Job(ag_zip, questions, canonical_name(ag_zip, "submission.ipynb"), tmp,
                  timeout, cell_timeout, memory, sandboxed, (Path(submissions), out))

        def one(item):
            (student, src, problem), key = item
            row = grade_one(student, src, problem, job, details_root / key)
            if progress:
                progress(row)
            return row

        with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
            rows = list(pool.map(one, zip(found, keys)))
    write_csv(rows, questions, out / "grades.csv")
    return rows
