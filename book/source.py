"""Show the book's own source code in a notebook, so that no code is pasted twice."""
from __future__ import annotations

import inspect
from pathlib import Path

# The folder that holds the ``book`` package: a label is the path below it,
# whatever the checkout (or site-packages) around it is called.
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def source_of(obj) -> str:
    """The source text of a function, class or module of the book."""
    try:
        return inspect.getsource(obj)
    except (TypeError, OSError) as err:
        raise ValueError(f"no Python source is available for {obj!r}") from err


def source_label(obj) -> str:
    """Where ``obj`` is defined: ``book/nn/linear.py`` for the book's code, else the file name."""
    path = inspect.getsourcefile(obj)
    if not path:
        return ""
    p = Path(path).resolve()
    if p.is_relative_to(PACKAGE_PARENT / "book"):
        return p.relative_to(PACKAGE_PARENT).as_posix()
    return p.name


def show_source(obj):
    """Display ``obj``'s source, highlighted, with the file it lives in.

    Returns a Markdown object: Jupyter renders it as a highlighted code block,
    and the book renders it through Sphinx with the same highlighting.
    """
    from IPython.display import Markdown

    text = source_of(obj).rstrip("\n")
    label = source_label(obj)
    fence = "````" if "```" in text else "```"
    header = f"*Source: `{label}`*\n\n" if label else ""
    return Markdown(f"{header}{fence}python\n{text}\n{fence}")
