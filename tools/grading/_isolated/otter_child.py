"""Run one Otter command, ``otter run ...`` or ``otter assign ...``, in a process of its own.

Two ways in:

* ``python otter_child.py [--memory BYTES] run|assign ARGS...`` starts a fresh
  interpreter: ``make assignments`` does this, and so does grading, inside the
  bubblewrap sandbox;
* :func:`child_main` is the target of a process forked from the grading fork
  server, which imported Otter once (``otter_preload``); only grading without
  the sandbox (``--no-sandbox``) takes this way.

Either way the process caps its address space (``RLIMIT_AS``, inherited by the
Jupyter kernel it starts) and the size of any file it writes, and it adopts
every process its kernel leaves behind (``PR_SET_CHILD_SUBREAPER``) so that it can
end them when Otter is done or when the runner sends ``SIGTERM``. In the sandbox
the PID namespace does that anyway.

For ``run`` three things are added to Otter (and its closing printout no longer
needs pandas, see :class:`_NoPandas`):

* after Otter has added its own cells to the notebook, the role of every cell
  the kernel will execute (the student's code cell N, or one of Otter's cells) is
  written to ``$BOOK_GRADING_ROLES``, where the kernel guard reads it before any
  student code runs. The student's cells are the ones whose id the runner gave
  (``book-student-N``); Otter's init cell is always the first and its results
  cell always the last;
* the outputs kept for the executed notebook are capped (``$BOOK_GRADING_OUTPUT_BYTES``),
  so a notebook that prints hundreds of megabytes costs neither memory nor disk;
* as soon as the kernel has stopped, every process the notebook left running is
  ended, before Otter reads the results the kernel wrote.

This file is loaded by path or from this folder on ``sys.path``, never through
the ``book`` package: importing ``book`` would import torch into every grader.
"""
import ctypes
import json
import os
import resource
import signal
import sys
import time
import traceback

STUDENT_ID = "book-student-"
FILE_BYTES = 512 * 2**20
PR_SET_CHILD_SUBREAPER = 36


def limit(memory: int) -> None:
    """Cap the address space of this process and its children at ``memory`` bytes (0: no cap)."""
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))


def adopt_orphans() -> None:
    """Become the parent of every orphan among our descendants; end them all on SIGTERM or exit."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        return
    signal.signal(signal.SIGTERM, lambda *_: (end_descendants(), os._exit(143)))


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return found


def end_descendants() -> int:
    """SIGKILL our children, and theirs, until none is left (orphans come back to us); return how many."""
    ended = set()
    for _ in range(100):
        kids = _children(os.getpid())
        if not kids:
            break
        stack = list(kids)
        while stack:
            pid = stack.pop()
            stack += _children(pid)
            ended.add(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
        while True:  # reap the dead
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
    return len(ended)


# --------------------------------------------------------------------------- #
# Additions to Otter for `run`
# --------------------------------------------------------------------------- #
def cell_roles(nb, skip_tag: str) -> list:
    """One entry per cell the kernel will execute, in order: the student's cell number, or Otter's role."""
    executed = [c for c in nb.cells
                if c.cell_type == "code" and c.source.strip() and skip_tag not in c.metadata.get("tags", [])]
    roles = []
    for i, cell in enumerate(executed):
        cid = str(cell.get("id") or "")
        if cid.startswith(STUDENT_ID) and cid[len(STUDENT_ID):].isdigit():
            roles.append(int(cid[len(STUDENT_ID):]))
        elif i == 0:
            roles.append("init")
        elif i == len(executed) - 1:
            roles.append("final")
        else:
            roles.append("grader")
    return roles


def write_roles_after_otter(path: str) -> None:
    from nbclient.client import NotebookClient
    from otter.execute.preprocessor import GradingPreprocessor

    otter_preprocess = GradingPreprocessor.preprocess
    skip_tag = NotebookClient.skip_cells_with_tag.default_value

    def preprocess(self, nb, resources=None):
        nb, resources = otter_preprocess(self, nb, resources)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cell_roles(nb, skip_tag), f)
        return nb, resources

    GradingPreprocessor.preprocess = preprocess


def cap_outputs(limit_bytes: int) -> None:
    from nbclient.client import NotebookClient

    keep = NotebookClient.output

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content") or {}
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in (content.get("data") or {}).values())
        self._book_output_bytes = getattr(self, "_book_output_bytes", 0) + size
        if self._book_output_bytes > limit_bytes:
            return None
        return keep(self, outs, msg, display_id, cell_index)

    NotebookClient.output = output


def end_strays_after_the_kernel() -> None:
    """Once the kernel has stopped, end whatever the notebook started before Otter reads its results.

    A detached process still running then could rewrite the results file that the
    kernel left for Otter, or the results.json that Otter writes.
    """
    from nbconvert.preprocessors import ExecutePreprocessor

    execute = ExecutePreprocessor.preprocess

    def preprocess(self, nb, resources=None, km=None):
        try:
            return execute(self, nb, resources, km)
        finally:
            ended = end_descendants()
            if ended:
                print(f"[book grading] ended {ended} process(es) left running", file=sys.stderr, flush=True)

    ExecutePreprocessor.preprocess = preprocess


class _NoPandas:
    """Stands in for pandas in Otter's closing printout of the scores, which nothing reads.

    Importing pandas is a third of what a fresh grading process spends on imports,
    and the sandbox starts one per submission. results.json does not need it.
    """

    class DataFrame:
        columns = ()

        def __init__(self, rows):
            self.rows = rows

        def __repr__(self):
            return "\n".join(f"{t.get('name')}: {t.get('score')} / {t.get('max_score')}"
                             for t in self.rows if isinstance(t, dict))

    @staticmethod
    def set_option(*args, **kwargs):
        pass


def without_pandas() -> None:
    """Import Otter with pandas loaded lazily, then point its printout at :class:`_NoPandas`."""
    from book_cell_guard import _LazyFirstImport

    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _LazyFirstImport())
    import otter.run.run_autograder as run_autograder

    run_autograder.pd = _NoPandas


def run(argv):
    """``otter run [--no-logo] -a AUTOGRADER -o OUTPUT_DIR SUBMISSION``."""
    import argparse

    without_pandas()
    from otter.run import main

    parser = argparse.ArgumentParser(prog="otter run")
    parser.add_argument("submission")
    parser.add_argument("-a", "--autograder", required=True)
    parser.add_argument("-o", "--output-dir", required=True)
    parser.add_argument("--no-logo", action="store_true")
    opts = parser.parse_args(argv)
    if os.environ.get("BOOK_GRADING_ROLES"):
        write_roles_after_otter(os.environ["BOOK_GRADING_ROLES"])
    end_strays_after_the_kernel()
    if os.environ.get("BOOK_GRADING_OUTPUT_BYTES"):
        cap_outputs(int(os.environ["BOOK_GRADING_OUTPUT_BYTES"]))
    main(opts.submission, autograder=opts.autograder, output_dir=opts.output_dir, no_logo=opts.no_logo)


def dispatch(argv) -> int:
    """Run the command; end whatever it left running; return its exit status."""
    sys.modules.setdefault("rfc3987_syntax", None)  # see otter_preload
    code = 0
    try:
        if argv[:1] == ["run"]:
            run(argv[1:])
        else:
            from otter.cli import cli

            cli(argv, prog_name="otter")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        ended = end_descendants()
        if ended:
            print(f"[book grading] ended {ended} process(es) left running", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def child_main(argv, env, cwd, log, memory) -> None:
    """Entry point of a forked grader: new session, limits, environment, log; then Otter."""
    os.setsid()
    limit(memory)
    adopt_orphans()
    os.environ.clear()
    os.environ.update(env)
    import tempfile

    tempfile.tempdir = None  # the fork server may have cached its own TMPDIR
    os.chdir(cwd)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os._exit(dispatch(list(argv)))


if __name__ == "__main__":
    args = sys.argv[1:]
    memory = 0
    if args[:1] == ["--memory"]:
        memory, args = int(args[1]), args[2:]
    limit(memory)
    adopt_orphans()
    sys.exit(dispatch(args))
