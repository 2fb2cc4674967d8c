"""Command line for ``make assignments`` and ``make grade``.

    python -m tools.grading assign [--out DIR] [--no-run-tests] [CHAPTER ...]
    python -m tools.grading grade --assignment CHAPTER --submissions DIR [--out DIR]
                                 [--autograder ZIP|DIR|MASTER.ipynb] [--workers 2]
                                 [--timeout 180] [--cell-timeout 30] [--memory 4G] [--no-sandbox]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tools.grading import sandbox
from tools.grading.assign import DEFAULT_OUT, ROOT, AssignError, assign, build_all, masters, resolve_chapter
from tools.grading.runner import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_MEMORY,
    DEFAULT_TIMEOUT,
    find_autograder_zip,
    grade_folder,
)


def _bytes(text: str) -> int:
    text = text.strip().upper()
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def cmd_assign(args) -> int:
    start = time.perf_counter()
    out = Path(args.out)
    paths = [c for c in args.chapters if c.endswith(".ipynb")]
    chapters = [c for c in args.chapters if not c.endswith(".ipynb")]
    try:
        built = {}
        for path in paths:  # a master notebook outside exercises/ (a teacher's private copy)
            built[path] = assign(Path(path), out / Path(path).stem, run_tests=not args.no_run_tests)
        if chapters or not paths:
            built.update(build_all(out, chapters or None, run_tests=not args.no_run_tests))
    except (AssignError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"Built {len(built)} assignment(s) in {Path(args.out)} "
          f"({time.perf_counter() - start:.0f} s (wall time)); reference solutions pass their tests.")
    return 0


def _autograder(args, tmp: Path) -> Path:
    """The autograder zip: --autograder (zip, folder or private master) or the built one."""
    if args.autograder:
        given = Path(args.autograder)
        if given.suffix == ".ipynb":
            print(f"Building the autograder from {given} (otter assign, tests run) ...", file=sys.stderr)
            return find_autograder_zip(assign(given, tmp / "private") / "autograder")
        return find_autograder_zip(given)
    chapter = resolve_chapter(args.assignment)
    folder = Path(args.build) / chapter
    try:
        return find_autograder_zip(folder / "autograder")
    except FileNotFoundError:
        print(f"No autograder in {folder}; building it (otter assign) ...", file=sys.stderr)
        return find_autograder_zip(assign(masters()[chapter], folder) / "autograder")


def cmd_grade(args) -> int:
    start = time.perf_counter()
    out = Path(args.out) if args.out else ROOT / "_build" / "grades" / args.assignment
    if not args.no_sandbox and sandbox.bwrap() is None:
        print(sandbox.INSTALL_HINT, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="book-grade-") as tmp:
        try:
            ag_zip = _autograder(args, Path(tmp))
        except (AssignError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        how = "without the sandbox (--no-sandbox)" if args.no_sandbox else "each notebook in a bubblewrap sandbox"
        print(f"Grading {args.submissions} with {ag_zip.name}, {how} ...", file=sys.stderr)

        def progress(row):
            print(f"  {row.student}: {row.total:g} points, {row.status}"
                  + (f" ({row.reason[:100]})" if row.status != "ok" else ""), file=sys.stderr, flush=True)

        try:
            rows = grade_folder(
                ag_zip, Path(args.submissions), out, workers=args.workers, timeout=args.timeout,
                cell_timeout=args.cell_timeout, memory=_bytes(args.memory), sandboxed=not args.no_sandbox,
                progress=progress,
            )
        except sandbox.SandboxError as e:
            print(e, file=sys.stderr)
            return 1
        except (FileNotFoundError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    counts = {s: sum(r.status == s for r in rows) for s in ("ok", "error", "timeout")}
    print(f"Graded {len(rows)} submission(s) in {time.perf_counter() - start:.0f} s (wall time): "
          + ", ".join(f"{n} {s}" for s, n in counts.items()) + f". Grades: {out / 'grades.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.grading", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    a = sub.add_parser("assign", help="build student and autograder notebooks with otter assign")
    a.add_argument("chapters", nargs="*",
                   help="chapter folders under exercises/ (default: all), or paths to master notebooks")
    a.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: _build/assignments)")
    a.add_argument("--no-run-tests", action="store_true", help="skip running the tests on the solutions")
    a.set_defaults(func=cmd_assign)

    g = sub.add_parser("grade", help="grade a folder of submitted notebooks into grades.csv")
    g.add_argument("--assignment", required=True, help="chapter folder under exercises/, e.g. 02-linear-models (or 02)")
    g.add_argument("--submissions", required=True, help="folder with one notebook (or one folder) per student")
    g.add_argument("--out", default=None, help="output folder for grades.csv (default: _build/grades/ASSIGNMENT)")
    g.add_argument("--autograder", default=None,
                   help="a private autograder: Otter's zip, a folder holding it, or a master notebook")
    g.add_argument("--build", default=str(DEFAULT_OUT), help="where `make assignments` put its output")
    g.add_argument("--workers", type=int, default=2, help="submissions graded in parallel (default 2)")
    g.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per submission (default %(default)s)")
    g.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell (default %(default)s)")
    g.add_argument("--memory", default=f"{DEFAULT_MEMORY // 2**30}G", help="address-space cap per submission (default %(default)s)")
    g.add_argument("--no-sandbox", action="store_true",
                   help="grade without the bubblewrap sandbox: student code can then reach your files "
                        "and leave processes running; every row says so")
    g.set_defaults(func=cmd_grade)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
