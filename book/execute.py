"""Re-execute notebooks in place, one fresh kernel each, top to bottom.

``make execute`` runs this over every notebook in ``chapters/`` (or those
named on the command line) and records each notebook's wall time in
``chapters/_data/execution_times.json``, which the book's status page shows.
"""
from __future__ import annotations

import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
TIMES = ROOT / "chapters" / "_data" / "execution_times.json"


def notebooks(args: list[str]) -> list[Path]:
    if args:
        paths = [Path(a).resolve() for a in args]
    else:
        paths = sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "exercises").glob("*/*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"error: no such notebook: {', '.join(missing)}")
    return paths


def execute(path: Path, timeout: int = 900) -> float:
    """Run ``path`` in a fresh ``python3`` kernel with its folder as working directory."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    paths = notebooks(argv)
    record = json.loads(TIMES.read_text()) if TIMES.exists() else {"notebooks": {}}
    for path in paths:
        print(f"executing {path.relative_to(ROOT)} ...", flush=True)
        seconds = execute(path)
        print(f"  {seconds:.1f} s", flush=True)
        record["notebooks"][str(path.relative_to(ROOT))] = {
            "seconds": round(seconds, 1),
            "executed": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        }
    record["machine"] = f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}"
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    TIMES.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
