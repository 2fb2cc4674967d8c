"""Which notebooks the book has, read from ``_toc.yml`` and ``exercises/``, never written out by hand.

``make execute``, ``make test-gpu`` and the tests take their lists from here,
so a chapter added to the table of contents (or an exercise folder added to
``exercises/``) is executed and tested without touching any list.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def toc_files(root: Path = ROOT) -> list[str]:
    """Every page of ``_toc.yml`` in reading order, as paths without a suffix (``chapters/01-landscape``)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    root_file = toc["root"]
    files = [root_file.rsplit(".", 1)[0] if root_file.endswith((".md", ".ipynb")) else root_file]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                name = entry["file"]
                files.append(name.rsplit(".", 1)[0] if name.endswith((".md", ".ipynb")) else name)
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def chapter_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks of the table of contents, in reading order."""
    return [root / f"{f}.ipynb" for f in toc_files(root) if (root / f"{f}.ipynb").is_file()]


def exercise_notebooks(root: Path = ROOT) -> list[Path]:
    """The master notebook of every folder under ``exercises/``, by folder name."""
    return sorted(p for p in (root / "exercises").glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def all_notebooks(root: Path = ROOT) -> list[Path]:
    """Chapters first, then exercises."""
    return chapter_notebooks(root) + exercise_notebooks(root)
