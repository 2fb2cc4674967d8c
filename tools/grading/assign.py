"""Build the student and autograder versions of the exercise notebooks with ``otter assign``.

``make assignments`` calls :func:`build_all`: for each master notebook
``exercises/<chapter>/<name>.ipynb`` it runs ``otter assign`` into
``_build/assignments/<chapter>/`` (``student/`` and ``autograder/``). Otter runs
the tests against the reference solutions while doing so; a failing test makes
the build fail. Afterwards :func:`find_leaks` checks that no line of a solution or
of a hidden test reached the student folder.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.grading.runner import child_env, find_autograder_zip, ipython_dir, run_child

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "exercises"
DEFAULT_OUT = ROOT / "_build" / "assignments"
ASSIGN_TIMEOUT = 900.0
ASSIGN_MEMORY = 8 * 2**30


class AssignError(RuntimeError):
    """``otter assign`` failed, or the student version leaks solution text."""


def masters(root: Path = EXERCISES) -> dict[str, Path]:
    """``{chapter folder name: master notebook}`` for every folder of ``exercises/``."""
    found = {}
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        nbs = sorted(p for p in folder.glob("*.ipynb"))
        if len(nbs) != 1:
            raise AssignError(f"{folder} should hold exactly one master notebook, found {[p.name for p in nbs]}")
        found[folder.name] = nbs[0]
    return found


def resolve_chapter(name: str, root: Path = EXERCISES) -> str:
    """The chapter folder named ``name`` or, failing that, the only one starting with it (``02``)."""
    chapters = masters(root)
    if name in chapters:
        return name
    hits = [c for c in chapters if c.startswith(name)]
    if len(hits) == 1:
        return hits[0]
    raise AssignError(f"unknown assignment {name!r}; choose one of {', '.join(chapters)}")


def assign(master: Path, dest: Path, *, run_tests: bool = True, log: Path | None = None) -> Path:
    """``otter assign MASTER DEST``; return DEST. Raises :class:`AssignError` on any failure."""
    master, dest = Path(master).resolve(), Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="book-assign-") as tmp:
        tmp = Path(tmp)
        env = child_env(ipython_dir(tmp), cell_timeout=600)
        log = Path(log) if log else tmp / "otter-assign.log"
        args = ["assign", str(master), str(dest)]
        if not run_tests:
            args.insert(1, "--no-run-tests")
        code, _ = run_child(args, cwd=master.parent, env=env, timeout=ASSIGN_TIMEOUT, memory=ASSIGN_MEMORY, log=log)
        if code != 0:
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            tail = "\n".join(text.strip().splitlines()[-25:])
            why = "timed out" if code is None else f"exited with status {code}"
            raise AssignError(f"otter assign {master.name} {why}:\n{tail}")
    find_autograder_zip(dest / "autograder")  # raises if Otter made no zip
    leaks = find_leaks(master, dest / "student")
    if leaks:
        raise AssignError(f"{dest / 'student'} contains solution or hidden-test text: {leaks[:5]}")
    return dest


# --------------------------------------------------------------------------- #
# Leak check
# --------------------------------------------------------------------------- #
def secret_lines(master: Path, min_chars: int = 12) -> list[str]:
    """Lines of the master notebook that students must not see.

    Solution code (between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` inside a
    cell, or a line ending in ``# SOLUTION``, in a solution block) and every line
    of a hidden test cell, less the lines that also occur in what students do get
    (public tests share their helper code with the hidden ones; scaffolding repeats
    generic lines). Lines shorter than ``min_chars`` are not secrets either.
    """
    import nbformat

    nb = nbformat.read(master, as_version=4)
    secret: list[str] = []
    public: set[str] = set()
    in_solution_block = in_tests_block = False
    begin = re.compile(r"\s*#\s*begin\s+solution", re.I)
    end = re.compile(r"\s*#\s*end\s+solution", re.I)
    for cell in nb.cells:
        src = cell.source
        lines = src.splitlines()
        first = src.strip().splitlines()[0].strip().lower() if src.strip() else ""
        if cell.cell_type == "raw":
            if re.match(r"#\s*begin\s+solution", first):
                in_solution_block = True
            elif re.match(r"#\s*end\s+solution", first):
                in_solution_block = False
            elif re.match(r"#\s*begin\s+tests", first):
                in_tests_block = True
            elif re.match(r"#\s*end\s+tests", first):
                in_tests_block = False
            continue
        if cell.cell_type != "code":
            public.update(ln.strip() for ln in lines)
            continue
        if in_tests_block:
            hidden = bool(re.search(r"\bhidden\s*:\s*true\b", src, re.I)) or first.startswith("# hidden")
            (secret.extend(lines) if hidden else public.update(ln.strip() for ln in lines))
            continue
        inside = False
        for ln in lines:
            if in_solution_block and begin.match(ln):
                inside = True
            elif in_solution_block and end.match(ln):
                inside = False
            elif in_solution_block and (inside or ln.rstrip().endswith("# SOLUTION")):
                secret.append(ln.split("# SOLUTION")[0])
            else:
                public.add(ln.strip())
    out = []
    for ln in secret:
        s = ln.strip()
        if len(s) >= min_chars and s not in public and not s.startswith("#") and s not in out:
            out.append(s)
    return out


def find_leaks(master: Path, folder: Path) -> list[str]:
    """Secret lines of ``master`` (see :func:`secret_lines`) found in any file under ``folder``."""
    secrets = secret_lines(master)
    texts = []
    for path in Path(folder).rglob("*"):
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    blob = "\n".join(texts)
    # Notebook JSON escapes quotes and backslashes; compare against both forms.
    leaks = []
    for s in secrets:
        escaped = s.replace("\\", "\\\\").replace('"', '\\"')
        if s in blob or escaped in blob:
            leaks.append(s)
    return leaks


# --------------------------------------------------------------------------- #
# All chapters
# --------------------------------------------------------------------------- #
def build_all(out: Path = DEFAULT_OUT, chapters: list[str] | None = None, *, run_tests: bool = True,
              workers: int = 2, progress=print) -> dict[str, Path]:
    """Assign every chapter (or those named) into ``out/<chapter>``; return ``{chapter: folder}``.

    Raises :class:`AssignError` listing every chapter that failed.
    """
    found = masters()
    names = [resolve_chapter(c) for c in chapters] if chapters else list(found)
    out = Path(out).resolve()

    def one(name):
        try:
            dest = assign(found[name], out / name, run_tests=run_tests)
            if progress:
                progress(f"{name}: {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
            return name, dest, None
        except Exception as e:  # report every chapter, then fail
            return name, None, e

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, names))
    failures = [(n, e) for n, _, e in results if e is not None]
    if failures:
        raise AssignError("\n\n".join(f"{n}: {e}" for n, e in failures))
    return {n: d for n, d, _ in results}
