"""Re-execute notebooks in place, one fresh kernel each, top to bottom.

``make execute`` runs this over every notebook of the book (``tools.notebooks``:
the chapters of ``_toc.yml`` and the exercise masters), or over those named on
the command line, and records, for each notebook, its wall time, when it ran
and on which machine in ``chapters/_data/execution_times.json``. From
that record it writes ``chapters/_data/execution_times.md``, the table that the
book's status page (``chapters/status.md``) includes. Commit both files with
the notebooks.

``python -m tools.execute --status`` only rewrites the table from the record.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from tools import kernels
from tools.notebooks import all_notebooks

ROOT = Path(__file__).resolve().parent.parent
TIMES = ROOT / "chapters" / "_data" / "execution_times.json"
TABLE = TIMES.with_suffix(".md")


def notebooks(args: list[str]) -> list[Path]:
    if args:
        paths = [Path(a).resolve() for a in args]
    else:
        paths = all_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"error: no such notebook: {', '.join(missing)}")
    return paths


def run(path: Path, timeout: int = 900, env: dict | None = None):
    """Run ``path`` top to bottom in a fresh ``python3`` kernel with its folder as working directory.

    Returns the executed notebook (the file is not touched) and the seconds it
    took. ``env`` adds variables to the kernel's environment. A failing cell
    raises nbclient's ``CellExecutionError``.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env={**os.environ, **(env or {})})
    return nb, time.perf_counter() - start


def execute(path: Path, timeout: int = 900) -> float:
    """:func:`run` ``path`` and save it in place with its outputs; returns the seconds it took."""
    import nbformat

    nb, seconds = run(path, timeout)
    # Widget state left by an interactive session makes the book load require.js and the
    # widget manager from CDNs; nothing the book shows is a widget, so it is not kept.
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def machine() -> str:
    """A one-line description of this machine, e.g. 'x86_64, Linux, 2 CPU cores (AMD EPYC), Python 3.11.7'."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = " (" + " ".join(line.split(":", 1)[1].split()) + ")"
                break
    if not cpu and platform.processor():
        cpu = f" ({platform.processor()})"
    return (f"{platform.machine()}, {platform.system()}, {os.cpu_count()} CPU cores{cpu}, "
            f"Python {platform.python_version()}")


@contextlib.contextmanager
def locked_record():
    """Read the record, let the caller change it, write it back; one writer at a time."""
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    lock_path = Path(tempfile.gettempdir()) / f"book-execute-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            record = json.loads(TIMES.read_text()) if TIMES.exists() else {}
            record.setdefault("notebooks", {})
            yield record
            _write(TIMES, json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
            _write(TABLE, status_table(record))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically, so a concurrent book build never reads half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def status_table(record: dict) -> str:
    """The Markdown that chapters/status.md includes: one row per notebook, newest record wins."""
    rows = []
    default_machine = record.get("machine", "not recorded")
    for name, entry in sorted(record.get("notebooks", {}).items()):
        if not (ROOT / name).is_file():  # a notebook that was renamed or removed
            continue
        rows.append((name, float(entry["seconds"]), entry.get("executed", "not recorded"),
                     entry.get("machine", default_machine)))
    lines = [
        "% Generated by `make execute` (tools/execute.py) from execution_times.json. Do not edit by hand.",
        "",
    ]
    if not rows:
        lines.append("No notebook has been executed with `make execute` yet.")
        return "\n".join(lines) + "\n"
    last = max((r[2] for r in rows if r[2][:1].isdigit()), default="not recorded")
    machines = sorted({r[3] for r in rows})
    per_row = len(machines) > 1  # a Machine column only when the runs were on different machines
    where = "on the machines listed" if per_row else f"on {_cell(machines[0])}"
    lines += [
        f"Last `make execute`: **{_cell(last)}**, {where}.",
        "",
        "| Notebook | Execution time (s) | Executed |" + (" Machine |" if per_row else ""),
        "| :--- | ---: | :--- |" + (" :--- |" if per_row else ""),
    ]
    for name, seconds, when, ran_on in rows:
        lines.append(f"| `{_cell(name)}` | {seconds:.1f} | {_cell(when)} |" + (f" {_cell(ran_on)} |" if per_row else ""))
    count = f"{len(rows)} notebook{'s' if len(rows) != 1 else ''}"
    lines.append(f"| **Total** ({count}) | **{sum(r[1] for r in rows):.1f}** | |" + (" |" if per_row else ""))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["--status"]:
        with locked_record():
            pass
        print(f"wrote {TABLE.relative_to(ROOT)}")
        return 0
    paths = notebooks(argv)
    kernels.apply()  # the kernels inherit the pinned environment
    print(kernels.header(), flush=True)
    here = machine()
    for path in paths:
        name = str(path.relative_to(ROOT))
        print(f"executing {name} ...", flush=True)
        seconds = execute(path)
        print(f"  {seconds:.1f} s", flush=True)
        with locked_record() as record:  # saved after each notebook, so an error keeps earlier times
            record["notebooks"][name] = {
                "seconds": round(seconds, 1),
                "executed": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "machine": here,
            }
            record["machine"] = here
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
