"""Chapter 15's figures: the path from a problem to a deployed model, and the stack of frameworks."""
from __future__ import annotations

from book.plotting.schematic import arrow, box, canvas

STEPS = ("problem", "data", "baseline", "model", "tuning", "evaluation", "deployment")
STACK = ("numpy", "torch", "tensorflow", "jax", "keras", "transformers", "scikit-learn")
MISSING = "#eaeded"


def workflow_figure(notes=None):
    """Seven boxes from problem framing to deployment, with the loops back that evaluation and
    monitoring cause. ``notes`` (one short string per step, or ``None``) is written under each box.
    Returns the figure."""
    labels = ("frame the\nproblem", "data and\nsplits", "baseline", "model", "tune on\nvalidation",
              "evaluate on\ntest, once", "deploy and\nmonitor")
    colours = ("input", "input", "op", "hidden", "param", "loss", "output")
    if notes is not None:
        notes = tuple(notes)
        if len(notes) != len(STEPS) or not all(isinstance(n, str) for n in notes):
            raise ValueError(f"workflow_figure: notes must be {len(STEPS)} strings (one per step: {STEPS}), "
                             f"got {notes!r}")
    ax = canvas(14.4, 4.8, scale=0.72)
    y, dx = 1.8, 2.05
    xs = [1.1 + dx * i for i in range(len(STEPS))]
    for i, (x, label, colour) in enumerate(zip(xs, labels, colours)):
        box(ax, (x, y), label, width=1.8, height=1.0, colour=colour, fontsize=9.5)
        if notes is not None:
            ax.text(x, y - 0.85, notes[i], ha="center", va="top", fontsize=8, color="#34495e")
        if i:
            arrow(ax, (xs[i - 1], y), (x, y), gap=0.9, gap_end=0.9)
    top = y + 0.5
    # (from, to, arc radius, colour, style, label): an arc of radius r over a chord L peaks r L / 2 above it.
    loops = ((4, 3, 0.5, "grad", "--", "try another model"),
             (5, 1, 0.3, "grad", "--", "errors send you back to the data or the question"),
             (6, 0, 0.34, "#7f8c8d", ":", "the world drifts: monitor, collect new data, retrain"))
    for a, b, rad, colour, style, label in loops:
        arrow(ax, (xs[a], top), (xs[b], top), curve=rad, colour=colour, linestyle=style)
        ax.text((xs[a] + xs[b]) / 2, top + rad * (xs[a] - xs[b]) / 2 + 0.12, label, ha="center", va="bottom",
                fontsize=8, color=colour if colour[0] == "#" else "#c0392b")
    return ax.figure


def framework_stack_figure(missing=()):
    """The book's frameworks as layers: hardware, the array-and-gradient engines (PyTorch, TensorFlow,
    JAX; NumPy under scikit-learn), Keras 3 across the three engines, Transformers on PyTorch.

    ``missing`` names members of :data:`STACK` that are not installed; they are drawn grey and
    dashed. Returns the figure.
    """
    missing = set(missing)
    unknown = missing - set(STACK)
    if unknown:
        raise ValueError(f"framework_stack_figure: missing must name members of {STACK}, got {sorted(unknown)}")
    ax = canvas(12.0, 5.0, scale=0.72)

    def layer(name, xy, text, width, colour, height=0.8):
        absent = name in missing
        box(ax, xy, text + ("\n(not installed)" if absent else ""), width=width, height=height,
            colour=MISSING if absent else colour, fontsize=8.5, color="#7f8c8d" if absent else "black")
        if absent:
            ax.patches[-1].set_linestyle("--")

    box(ax, (6.0, 0.55), "hardware: CPU · GPU (CUDA) · Apple MPS · TPU", width=11.4, height=0.7, colour="op",
        fontsize=9.5)
    engines = {"torch": (1.6, "PyTorch\ntensors, autograd"), "tensorflow": (4.35, "TensorFlow\ntensors, autodiff"),
               "jax": (7.1, "JAX\narrays, grad, jit")}
    for name, (x, text) in engines.items():
        layer(name, (x, 1.75), text, 2.6, "hidden", height=1.0)
    layer("numpy", (10.2, 1.75), "NumPy / SciPy\nCPU arrays", 3.0, "hidden", height=1.0)
    layer("transformers", (1.6, 3.15), "Transformers v5\n(PyTorch classes)", 2.6, "output", height=1.0)
    layer("keras", (5.725, 3.15), "Keras 3: one model API;\nKERAS_BACKEND picks the engine", 5.35, "param",
          height=1.0)
    layer("scikit-learn", (10.2, 3.15), "scikit-learn\nclassical ML, splits, metrics", 3.0, "output", height=1.0)
    box(ax, (6.0, 4.45), "Jupyter: notebooks that drive all of these, cell by cell", width=11.4, height=0.7,
        colour="input", fontsize=9.5)
    for x in (1.6, 4.35, 7.1):
        arrow(ax, (max(x, 3.3), 2.65), (x, 2.25))
    arrow(ax, (1.6, 2.65), (1.6, 2.25))
    arrow(ax, (10.2, 2.65), (10.2, 2.25))
    return ax.figure


__all__ = ["MISSING", "STACK", "STEPS", "framework_stack_figure", "workflow_figure"]
