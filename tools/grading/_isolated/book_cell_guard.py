"""IPython extension loaded into every grading kernel by ``tools.grading``.

It does three things, all from IPython's ``pre_run_cell``/``post_run_cell`` hooks:

1. **Per-cell timeout.** Each cell gets a wall-clock budget. A repeating
   ``signal.setitimer`` tick (every 0.1 s) checks the deadline; once it has
   passed, every tick raises :class:`CellTimeout` in the student's code, and a
   trace function raises it again on the next line that code runs. So a loop that
   swallows the exception (``while True: try: ... except: pass``, which also eats
   ``KeyboardInterrupt``) still ends: the first line of its own ``except`` block
   raises and leaves the try statement. A one-shot alarm would be swallowed once
   and never come back. Grader cells (those Otter inserts to run the tests) are
   never interrupted themselves; a student function that loops when a test calls
   it is, that test fails, and the remaining tests get a short fresh budget.
   Which cell is whose comes from ``$BOOK_GRADING_ROLES``, a list written by the
   grading process before the kernel starts and read here before any student code
   runs: one entry per executed cell, in order (the student's cell number, or
   ``init``, ``grader``, ``final`` for Otter's). Cell text plays no part, so a
   student cell cannot pass for Otter's by what it says; a cell run from inside
   another (``get_ipython().run_cell``) counts as part of that cell.
   Code that blocks ``SIGALRM``, stays inside one long C call, or nests two
   swallowing ``try`` statements is not stopped here: the runner's wall-clock
   limit kills the whole submission.
2. **Tamper repair.** The attributes of ``numpy``, ``numpy.testing``,
   ``numpy.linalg``, ``math``, ``pickle``, ``inspect``, a few builtins and (once
   imported) Otter's test runner are recorded before any student code runs; after
   every cell, anything replaced (``np.allclose = lambda *a: True``) is put back
   and reported. Otter's last cell then runs *every* test again, against the final
   state of the notebook: results of checks run earlier from student cells, where
   a patch may still have been in force, are discarded. The book's tests do not
   rely on NumPy for their verdict anyway (they compare with plain Python).
3. **Events.** One JSON line per cell start, end, timeout and repair goes to the
   file named by ``BOOK_GRADING_EVENTS``; the runner turns them into the
   ``status`` and ``reason`` columns of ``grades.csv``.

Student code runs in this very process and can undo all of it. The sandbox the
runner puts around the grading process and this kernel, with its wall-clock limit
and memory cap, is the backstop. The module must not import the ``book`` package
(that would import torch into every grading kernel); it is imported by file
location.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sys
import time

# jsonschema (imported by nbformat, which Otter imports in the kernel) builds a
# large grammar at import time when the optional rfc3987_syntax package is
# present: seconds of CPU per submission for a URI check nothing here uses.
sys.modules.setdefault("rfc3987_syntax", None)

_OPEN, _DUMPS = open, json.dumps


class _LazyFirstImport:
    """Make the first import of ``pandas`` lazy: loaded on first use, not at import.

    Otter's init cell imports ``otter.run``, which imports pandas at module level
    but never uses it inside the kernel: most of a second per submission. Student
    code that imports and uses pandas gets the real module, transparently.
    """

    names = {"pandas"}

    def find_spec(self, name, path=None, target=None):
        if name not in self.names:
            return None
        import importlib.machinery
        import importlib.util

        self.names = self.names - {name}
        if not self.names and self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


TICK = 0.1  # seconds between timer ticks once a cell is running
GRACE = 2.0  # fresh budget for the rest of a grader cell after a test timed out

_CELL_FILE = re.compile(r"[/\\]ipykernel_\d+[/\\][^/\\]+\.py$")


class CellTimeout(Exception):
    """Raised in student code that ran past the per-cell time limit."""

    def __init__(self, message="cell ran past the time limit"):
        super().__init__(message)


class _Guard:
    def __init__(self, shell, limit: float, events_path: str | None, roles: list | None = None):
        self.shell = shell
        self.limit = float(limit)
        self.events_path = events_path
        self.roles = list(roles or [])
        self.executed = 0  # top-level cells run so far
        self.running = None  # ExecutionInfo of the top-level cell now running
        self.role = None
        self.deadline = None
        self.cell_file = None  # ipykernel's file name for the running cell
        self.grader_cell = False
        self.doomed: set = set()  # code objects of the student frames that ran out of time
        self.timed_out = False
        self.tracing = False
        self._snapshot = {}
        self._take_snapshot()

    # --- events -------------------------------------------------------------
    def emit(self, **record) -> None:
        if not self.events_path:
            return
        try:  # the functions captured at import: student code may have replaced open
            with _OPEN(self.events_path, "a", encoding="utf-8") as f:
                f.write(_DUMPS(record) + "\n")
        except Exception:
            pass

    # --- which frames are the student's ---------------------------------------
    def _is_cell_file(self, filename: str) -> bool:
        # ipykernel compiles each cell as <tmp>/ipykernel_<pid>/<hash>.py; plain IPython
        # as <ipython-input-N-hash>.
        return bool(_CELL_FILE.search(filename)) or filename.startswith("<ipython-input")

    def _is_student(self, frame) -> bool:
        name = frame.f_code.co_filename
        if self.grader_cell and name == self.cell_file:
            return False
        return self._is_cell_file(name)

    def _student_frames(self, frame):
        out = []
        while frame is not None:
            if self._is_student(frame):
                out.append(frame)
            frame = frame.f_back
        return out

    # --- timer ------------------------------------------------------------------
    # Frames are recognised by their code object, not by the frame object: CPython
    # may hand out a new frame object for a frame that is still running, which
    # also loses the trace function set on the old one. So each tick sets it again.
    def _on_tick(self, signum, frame):
        if self.deadline is None:
            return
        if frame is not None and frame.f_code in _OWN_CODE:
            return  # inside the guard's own trace function; the next tick comes soon
        on_stack = self._student_frames(frame)
        if self.doomed and not any(f.f_code in self.doomed for f in on_stack):
            # What ran out of time has unwound: a test caught the exception. The
            # rest of this (grader) cell gets a short fresh budget.
            self._disarm_trace()
            self.deadline = time.monotonic() + GRACE
            return
        if time.monotonic() < self.deadline or not on_stack:
            return
        if not self.timed_out:
            self.timed_out = True
            self.emit(event="timeout", limit=self.limit, grader=self.grader_cell)
        for f in on_stack:
            self.doomed.add(f.f_code)
            f.f_trace = self._local_trace
            f.f_trace_lines = True
        self.tracing = True
        sys.settrace(self._global_trace)  # again each time: see _local_trace
        raise CellTimeout(f"cell ran past the {self.limit:g} s limit")

    def _global_trace(self, frame, event, arg):
        # New calls of code that already ran out of time are stopped at their first line.
        return self._local_trace if frame.f_code in self.doomed else None

    def _local_trace(self, frame, event, arg):
        if event == "line" and frame.f_code in self.doomed:
            # A line of student code that should have stopped: typically the first line
            # of the `except` block that swallowed the exception. Raising here leaves that
            # try statement. (CPython then drops the trace function; the next tick sets it
            # again. Two nested levels of `except: pass` around a loop can outrun this; the
            # runner's wall-clock limit ends those.)
            raise CellTimeout(f"cell ran past the {self.limit:g} s limit")
        return self._local_trace

    def _disarm_trace(self):
        self.doomed.clear()
        if self.tracing:
            sys.settrace(None)
            self.tracing = False

    # --- snapshot of library functions -------------------------------------------
    _BUILTINS = (
        "abs all any bool dict enumerate float getattr hasattr int isinstance issubclass len list "
        "map max min open range repr round sorted str sum tuple type zip"
    ).split()
    _MODULES = ("numpy", "numpy.testing", "numpy.linalg", "math", "pickle", "inspect")
    _OTTER_MODULES = ("otter.execute.checker", "otter.test_files", "otter.test_files.abstract_test",
                      "otter.test_files.exception_test")
    _OTTER_CLASSES = (("otter.execute.checker", "Checker"), ("otter.test_files", "GradingResults"),
                      ("otter.test_files.abstract_test", "TestFile"),
                      ("otter.test_files.exception_test", "ExceptionTestFile"),
                      ("otter.test_files.exception_test", "test_case"))

    def _take_snapshot(self):
        import builtins
        import importlib

        for name in self._MODULES:
            mod = importlib.import_module(name)
            self._snapshot[name] = (mod, {k: v for k, v in vars(mod).items() if not k.startswith("__")})
        self._snapshot["builtins"] = (builtins, {k: getattr(builtins, k) for k in self._BUILTINS})

    def _snapshot_otter(self):
        """Record Otter's test runner once the grading init cell has imported it."""
        import importlib

        try:
            for name in self._OTTER_MODULES:
                mod = importlib.import_module(name)
                self._snapshot[name] = (mod, {k: v for k, v in vars(mod).items() if not k.startswith("__")})
            for modname, clsname in self._OTTER_CLASSES:
                cls = getattr(importlib.import_module(modname), clsname)
                methods = {k: v for k, v in vars(cls).items()
                           if callable(v) or isinstance(v, (classmethod, staticmethod, property))}
                self._snapshot[f"{modname}.{clsname}"] = (cls, methods)
        except Exception:  # another Otter version: the repair is a convenience only
            pass

    def repair(self) -> list[str]:
        """Put back every recorded attribute that student code replaced or deleted."""
        fixed = []
        for name, (obj, saved) in list(self._snapshot.items()):
            if isinstance(obj, type(sys)) and sys.modules.get(name) is not obj:
                sys.modules[name] = obj
                fixed.append(f"sys.modules[{name!r}]")
            current = vars(obj)
            for attr, value in saved.items():
                if current.get(attr, _MISSING) is not value:
                    try:
                        setattr(obj, attr, value)
                    except Exception:
                        continue
                    fixed.append(f"{name}.{attr}")
        return fixed

    # --- IPython hooks ------------------------------------------------------------
    def _role(self):
        """The role of the cell about to run: the student's cell number, or Otter's init/grader/final."""
        if self.executed < len(self.roles):
            return self.roles[self.executed]
        return None  # no roles given (otter assign, a plain shell): every cell is timed

    def pre_run_cell(self, info):
        if self.running is not None:
            return  # run_cell from inside a cell: part of that cell
        self.running = info
        self.role = self._role()
        self.executed += 1
        self.grader_cell = isinstance(self.role, str)
        raw = info.raw_cell or ""
        try:
            self.cell_file = self.shell.compile.get_code_name(raw, raw, 0)
        except Exception:
            self.cell_file = None
        self.timed_out = False
        self.doomed.clear()
        if self.role == "final":
            # Otter's last cell runs every test not yet run. Forget the results of
            # the checks run earlier from student cells, so that every test runs
            # here, against the notebook's final state, after the repair that
            # followed the last student cell.
            try:
                from otter.execute import Checker

                Checker.clear_results()
            except Exception:
                pass
        self.emit(event="start", cell=self.role, grader=self.grader_cell)
        self.deadline = time.monotonic() + self.limit
        signal.signal(signal.SIGALRM, self._on_tick)
        signal.setitimer(signal.ITIMER_REAL, TICK, TICK)

    def post_run_cell(self, result):
        info = getattr(result, "info", None)  # ipykernel passes None when the cell was cancelled
        if self.running is None or (info is not None and info is not self.running):
            return  # a nested cell, or one whose start this guard did not see
        self.running = None
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        self.deadline = None
        self._disarm_trace()
        err = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        error = None
        if err is not None:
            error = f"{type(err).__name__}: {err}"[:300]
        if self.role == "init" and "otter.execute.checker" not in self._snapshot:
            self._snapshot_otter()
        fixed = self.repair()
        if fixed:
            self.emit(event="repaired", names=fixed[:20])
        self.emit(event="end", error=error, timeout=self.timed_out, grader=self.grader_cell)


_MISSING = object()
_OWN_CODE = {f.__code__ for f in (_Guard._on_tick, _Guard._local_trace, _Guard._global_trace, _Guard.emit,
                                   _Guard._student_frames, _Guard._is_student, _Guard._is_cell_file)}


def _read_roles(path: str | None) -> list:
    if not path:
        return []
    try:
        with _OPEN(path, encoding="utf-8") as f:
            roles = json.load(f)
    except (OSError, ValueError):
        return []
    return roles if isinstance(roles, list) else []


def load_ipython_extension(shell):
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _LazyFirstImport())
    limit = float(os.environ.get("BOOK_GRADING_CELL_TIMEOUT", "60"))
    guard = _Guard(shell, limit, os.environ.get("BOOK_GRADING_EVENTS"), _read_roles(os.environ.get("BOOK_GRADING_ROLES")))
    shell.events.register("pre_run_cell", guard.pre_run_cell)
    shell.events.register("post_run_cell", guard.post_run_cell)
    shell._book_cell_guard = guard
