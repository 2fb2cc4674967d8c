"""Show the book's own source code in a notebook, so that no code is pasted twice."""
from __future__ import annotations

import inspect
from pathlib import Path


def source_of(obj) -> str:
    """The source text of a function, class or module of the book."""
    try:
        return inspect.getsource(obj)
    except (TypeError, OSError) as err:
        raise ValueError(f"no Python source is available for {obj!r}") from err


def show_source(obj):
    """Display ``obj``'s source, highlighted, with the file it lives in.

    Returns a Markdown object: Jupyter renders it as a highlighted code block,
    and the book renders it through Sphinx with the same highlighting.
    """
    from IPython.display import Markdown

    text = source_of(obj).rstrip("\n")
    path = inspect.getsourcefile(obj)
    label = ""
    if path:
        p = Path(path).resolve()
        parts = p.parts
        label = "/".join(parts[parts.index("book"):]) if "book" in parts else p.name
    fence = "````" if "```" in text else "```"
    header = f"*Source: `{label}`*\n\n" if label else ""
    return Markdown(f"{header}{fence}python\n{text}\n{fence}")
