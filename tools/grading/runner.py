"""Grade a folder of submitted notebooks with ``otter run``, one process per student.

``make grade ASSIGNMENT=02-linear-models SUBMISSIONS=<dir> OUT=<dir>`` calls
:func:`grade_folder`. Every ``*.ipynb`` under ``SUBMISSIONS`` is one student: a
notebook directly in the folder is named after its file (``alice.ipynb`` is
``alice``), a notebook inside a sub-folder after the sub-folder (``bob/hw.ipynb``
is ``bob``). Each one is copied, under the assignment's own notebook name, into a
scratch folder and graded by ``otter run`` (``otter.run.main``) in a child process,
two at a time. The children are forked from a fork server that imported Otter once,
which saves about two seconds per submission. Each child

* has a hard wall-clock limit; on expiry its whole process group is killed, and
  so is the Jupyter kernel it started (which lives in a session of its own; it is
  found by a random token in its environment);
* has its address space capped with ``resource.setrlimit(RLIMIT_AS)``, which the
  kernel inherits, so a huge allocation fails with ``MemoryError``;
* loads ``book_cell_guard`` into the kernel, a per-cell timeout and tamper repair
  (see that module).

The results go to ``<OUT>/grades.csv``: ``student``, one column per question,
``total``, ``status`` (``ok``, ``error`` or ``timeout``) and ``reason``. A
submission that cannot be graded still gets its row (all zeros). Otter's
``results.json`` and the grading log of each student are kept in
``<OUT>/details/<student>/``. Running again overwrites both.

This runs student code on this machine, in-process with the tests. It is not a
sandbox; see the teacher guide (``chapters/teaching.md``).
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
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ISOLATED = Path(__file__).resolve().parent / "_isolated"
CHILD = ISOLATED / "otter_child.py"
GUARD_MODULE = "book_cell_guard"

DEFAULT_TIMEOUT = 120.0  # seconds for one whole submission
DEFAULT_CELL_TIMEOUT = 20.0  # seconds for one cell
DEFAULT_MEMORY = 4 * 2**30  # bytes of address space for the grading processes
REASON_CHARS = 400

STATUSES = ("ok", "error", "timeout")
TOKENS: list[str] = []  # every token handed to a grading process by this process (for tests)


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


def child_env(ipython: Path, *, events: Path | None, cell_timeout: float, token: str) -> dict:
    """Environment for a grading process and the kernel it starts."""
    env = dict(os.environ)
    env["IPYTHONDIR"] = str(ipython)
    env["PYTHONPATH"] = os.pathsep.join([str(ISOLATED)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    # The environment's own kernel spec first, whatever a user has registered.
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(Path(sys.prefix) / "share" / "jupyter")] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    )
    env["BOOK_GRADING_CELL_TIMEOUT"] = str(cell_timeout)
    env["BOOK_GRADING_TOKEN"] = token
    if events is not None:
        env["BOOK_GRADING_EVENTS"] = str(events)
    else:
        env.pop("BOOK_GRADING_EVENTS", None)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"  # two graders in parallel on two cores; also keeps sums reproducible
    env["MPLBACKEND"] = "Agg"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.pop("BOOK_GRADING_MEMORY", None)
    return env


def kill_token(token: str) -> int:
    """SIGKILL every process of ours whose environment carries ``BOOK_GRADING_TOKEN=token``.

    The Jupyter kernel that ``otter run`` starts runs in a session of its own, so
    killing the child's process group does not reach it. Only processes started
    for this one submission carry the (random) token.
    """
    needle = f"BOOK_GRADING_TOKEN={token}".encode()
    killed = 0
    proc = Path("/proc")
    if not proc.is_dir():
        return 0
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def run_child(args: list[str], *, cwd: Path, env: dict, timeout: float, memory: int, log: Path) -> tuple[int | None, float]:
    """Run ``otter_child.py ARGS`` with limits; return (exit code or None on timeout, seconds)."""
    cmd = [sys.executable, str(CHILD), "--memory", str(int(memory)), *args]
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
        finally:
            token = env.get("BOOK_GRADING_TOKEN")
            if token:
                kill_token(token)
    return code, time.monotonic() - start


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
    """Like :func:`run_child`, but the process is forked from a warm fork server.

    Same limits: its own session, ``RLIMIT_AS``, a wall-clock limit after which the
    whole process group and every process carrying the submission's token are killed.
    (As with any ``multiprocessing`` start method but fork, the caller's main module
    must be importable: run through ``python -m tools.grading``, pytest or a script.)
    """
    ctx = _forkserver_context()
    import otter_child  # light: the heavy imports happened in the fork server

    proc = ctx.Process(target=otter_child.child_main, args=(args, env, str(cwd), str(log), int(memory)))
    start = time.monotonic()
    proc.start()
    try:
        proc.join(timeout)
        code = proc.exitcode
        if proc.is_alive():
            code = None
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()  # killed before it could start its session
            proc.join()
    finally:
        token = env.get("BOOK_GRADING_TOKEN")
        if token:
            kill_token(token)
        proc.close() if not proc.is_alive() else None
    return code, time.monotonic() - start


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
    """Question names and point values from the test files in the autograder zip."""
    questions = []
    with zipfile.ZipFile(ag_zip) as zf:
        for member in sorted(zf.namelist()):
            if not (member.startswith("tests/") and member.endswith(".py")):
                continue
            text = zf.read(member).decode("utf-8")
            name = re.search(r'^name\s*=\s*"([^"]+)"', text, re.M)
            points = re.search(r"^points\s*=\s*([0-9.]+)\s*$", text, re.M)
            if name is None:
                continue
            if points is None:  # points given per test case
                points_each = re.findall(r"@test_case\(points=([0-9.]+)", text)
                total = sum(float(p) for p in points_each)
            else:
                total = float(points.group(1))
            questions.append(Question(name.group(1), total))
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
    different assignment keeps its name and Otter rejects it.
    """
    import nbformat

    try:
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
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    nbformat.write(nb, dest)
    return nb, ""


def _code_cells(nb) -> list[tuple[str | None, str]]:
    return [(c.get("id"), c.get("source", "")) for c in nb.cells if c.get("cell_type") == "code"]


def _where(nb, record: dict) -> str:
    """'code cell N (`first line`)' for an event, matched by cell id or source."""
    cells = _code_cells(nb)
    index = None
    for i, (cid, src) in enumerate(cells):
        if record.get("cell_id") and cid == record.get("cell_id"):
            index = i
            break
    if index is None:
        for i, (cid, src) in enumerate(cells):
            if src.strip() == (record.get("source") or "").strip():
                index = i
                break
    first = next((ln.strip() for ln in (record.get("source") or "").splitlines() if ln.strip()), "")
    if len(first) > 40:
        first = first[:37] + "..."
    if index is None:
        return f"a cell (`{first}`)"
    return f"code cell {index + 1} (`{first}`)"


def _read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


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
            current["repaired"].extend(e.get("names", []))
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
        message = _first_failure(test.get("output", ""))
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


def grade_one(
    student: str,
    src: Path | None,
    problem: str,
    *,
    ag_zip: Path,
    questions: list[Question],
    canonical: str,
    ipython: Path,
    work_root: Path,
    details: Path,
    timeout: float,
    cell_timeout: float,
    memory: int,
) -> Row:
    """Grade one student's notebook; never raises."""
    row = Row(student, {q.name: 0.0 for q in questions})
    try:
        return _grade_one(row, src, problem, ag_zip, questions, canonical, ipython, work_root, details, timeout, cell_timeout, memory)
    except Exception as e:  # a bug here must not lose the row
        row.status, row.reason = "error", f"grader failure: {type(e).__name__}: {e}"[:REASON_CHARS]
        return row


def _grade_one(row, src, problem, ag_zip, questions, canonical, ipython, work_root, details, timeout, cell_timeout, memory):
    assignment = canonical[: -len(".ipynb")] if canonical.endswith(".ipynb") else None
    details.mkdir(parents=True, exist_ok=True)
    if src is None:
        row.status, row.reason = "error", problem
        return row
    work = Path(tempfile.mkdtemp(prefix="sub-", dir=work_root))
    try:
        notebook = work / canonical
        nb, problem = _prepare(src, notebook, assignment)
        if nb is None:
            row.status, row.reason = "error", problem
            return row
        out = work / "out"
        events_path = work / "events.jsonl"
        log = details / "otter-run.log"
        for attempt in range(1 + KERNEL_START_RETRIES):
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            events_path.unlink(missing_ok=True)
            token = uuid.uuid4().hex
            TOKENS.append(token)
            env = child_env(ipython, events=events_path, cell_timeout=cell_timeout, token=token)
            code, row.seconds = run_forked(
                ["run", "--no-logo", "-a", str(ag_zip), "-o", str(out), str(notebook)],
                cwd=work, env=env, timeout=timeout, memory=memory, log=log,
            )
            if code == 0 or events_path.exists() or not _kernel_failed_to_start(log):
                break
            # Jupyter picks a free TCP port, closes it and hands it to the kernel; with many
            # kernels starting on one machine another process can take it in between. No
            # student code has run yet, so grading again is safe.
        events = _read_events(events_path)
        cells = _cells_from_events(events)
        results_file = out / "results.json"
        results = None
        if code == 0 and results_file.exists():
            results = json.loads(results_file.read_text(encoding="utf-8"))
            shutil.copy(results_file, details / "results.json")
            for test in results.get("tests", []):
                if test.get("name") in row.scores:
                    row.scores[test["name"]] = float(test.get("score") or 0.0)
            if any(t.get("name") == "Autograder Failed" for t in results.get("tests", [])):
                results = None  # Otter read no results: the notebook never reached its last cell
                row.scores = {q.name: 0.0 for q in questions}
        notes = []
        unfinished = next((c for c in cells if c["end"] is None), None)
        timed_out = [c for c in cells if c["timeout"]]
        errors = [c for c in cells if c["end"] is not None and c["end"].get("error") and not c["start"].get("grader")]
        repaired = sorted({n for c in cells for n in c["repaired"]})
        if code is None:
            row.status = "timeout"
            where = f" while running {_where(nb, unfinished['start'])}" if unfinished else ""
            notes.append(f"killed after the {timeout:g} s limit for the whole notebook{where}")
        elif results is None:
            row.status = "error"
            if unfinished is not None:
                notes.append(
                    f"the kernel died while running {_where(nb, unfinished['start'])} "
                    "(os._exit, a crash, or the memory limit)"
                )
            else:
                notes.append("Otter could not grade the notebook: " + _last_error_line(log))
        elif timed_out:
            row.status = "timeout"
            for c in timed_out[:2]:
                if c["start"].get("grader"):
                    notes.append(f"a test ran past the {cell_timeout:g} s cell limit (a function that does not return?)")
                else:
                    notes.append(f"{_where(nb, c['start'])} ran past the {cell_timeout:g} s cell limit")
        elif errors:
            row.status = "error"
            c = errors[0]
            more = f" (+{len(errors) - 1} more cells with errors)" if len(errors) > 1 else ""
            notes.append(f"{_where(nb, c['start'])} raised {c['end']['error'].splitlines()[0][:160]}{more}")
        if repaired:
            notes.append("tampering: the notebook replaced " + ", ".join(repaired[:4]) + (" ..." if len(repaired) > 4 else "")
                         + "; restored before the tests ran")
        if results is not None:
            notes.extend(_failed_tests(results, questions))
        sources = "\n".join(src_ for _, src_ in _code_cells(nb))
        missing = [q.name for q in questions if f'grader.check("{q.name}")' not in sources and f"grader.check('{q.name}')" not in sources]
        if missing and results is not None:
            notes.append(f"no grader.check cell for {', '.join(missing)} (graded anyway)")
        if Path(src).name != canonical and Path(src).parent.name == row.student and Path(src).stem != row.student:
            notes.append(f"notebook renamed to {Path(src).name!r}; graded as {canonical!r}")
        row.reason = "; ".join(notes)[:REASON_CHARS]
        return row
    finally:
        if (work / "events.jsonl").exists():
            shutil.copy(work / "events.jsonl", details / "cell-events.jsonl")
        shutil.rmtree(work, ignore_errors=True)


KERNEL_START_RETRIES = 2


def _kernel_failed_to_start(log: Path) -> bool:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(m in text for m in ("Address already in use", "Kernel died before replying to kernel_info",
                                   "Kernel didn't respond in"))


def _last_error_line(log: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
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
    progress=None,
) -> list[Row]:
    """Grade every submission under ``submissions``; write ``out/grades.csv``; return the rows."""
    ag_zip = Path(ag_zip).resolve()
    out = Path(out).resolve()
    questions = read_questions(ag_zip)
    if not questions:
        raise ValueError(f"no questions found in {ag_zip}")
    canonical = canonical_name(ag_zip, "submission.ipynb")
    found = find_submissions(Path(submissions))
    keys, seen = [], {}
    for student, _, _ in found:  # a folder name for each student's details, unique
        key = _safe(student)
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}-{seen[key]}")
    details_root = out / "details"
    if details_root.exists():
        shutil.rmtree(details_root)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="book-grading-") as tmp:
        tmp = Path(tmp)
        ipython = ipython_dir(tmp)

        def job(item):
            (student, src, problem), key = item
            row = grade_one(
                student, src, problem, ag_zip=ag_zip, questions=questions, canonical=canonical,
                ipython=ipython, work_root=tmp, details=details_root / key,
                timeout=timeout, cell_timeout=cell_timeout, memory=memory,
            )
            if progress:
                progress(row)
            return row

        with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
            rows = list(pool.map(job, zip(found, keys)))
    write_csv(rows, questions, out / "grades.csv")
    return rows
