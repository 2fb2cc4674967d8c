"""Chapter 12's schematic: application areas on the left, the book's chapters on the right, joined by
arrows from each application to the chapters that implement its core model.

Drawn with :mod:`book.plotting.schematic`. Applications with a live demo in
chapter 12 are green (the output colour), those described only are grey.
"""
from __future__ import annotations

from book.checks import positive
from book.data.applications import APPLICATIONS, CHAPTERS
from book.plotting import schematic as sch


def applications_map_figure(applications=APPLICATIONS, chapters=CHAPTERS, scale: float = 0.62):
    """The map of ``applications`` (see :data:`book.data.applications.APPLICATIONS`) to ``chapters``.

    Returns the figure and its axes. Every chapter an application names must be a key of ``chapters``.
    """
    import matplotlib.pyplot as plt

    owner = "applications_map_figure"
    scale = positive(scale, "scale", owner=owner)
    applications = list(applications)
    if not applications:
        raise ValueError(f"{owner}: applications is empty")
    for app in applications:
        unknown = [c for c in app.chapters if c not in chapters]
        if unknown:
            raise ValueError(f"{owner}: {app.name} names chapters {unknown} that are not in chapters")
    used = sorted({c for app in applications for c in app.chapters})
    rows = max(len(applications), len(used))
    height = rows * 0.9 + 1.7                              # room for the headings and the legend line
    width = 13.0
    fig, ax = plt.subplots(figsize=(width * scale, height * scale))
    sch.canvas(width, height, ax=ax)
    top = height - 1.0

    def y_of(i, n):
        return top - (i + 0.5) * (rows * 0.9) / n

    ax.text(2.2, height - 0.45, "application", ha="center", fontsize=11, weight="bold")
    ax.text(10.6, height - 0.45, "chapter of this book", ha="center", fontsize=11, weight="bold")
    app_width, chapter_width = 3.4, 4.6
    chapter_xy = {}
    for j, c in enumerate(used):
        chapter_xy[c] = sch.box(ax, (10.6, y_of(j, len(used))), f"{c}  {chapters[c]}", width=chapter_width,
                                height=0.62, colour="hidden", fontsize=9)
    for i, app in enumerate(applications):
        xy = sch.box(ax, (2.2, y_of(i, len(applications))), app.name, width=app_width, height=0.62,
                     colour="output" if app.demo else "dropped", fontsize=9.5)
        for c in app.chapters:
            sch.arrow(ax, (xy[0] + app_width / 2, xy[1]), (chapter_xy[c][0] - chapter_width / 2, chapter_xy[c][1]),
                      colour="edge")
    ax.text(width / 2, 0.35, "green: a live demo in this chapter; grey: described with dated sources",
            ha="center", va="center", fontsize=9)
    fig.tight_layout()
    return fig, ax


__all__ = ["applications_map_figure"]
