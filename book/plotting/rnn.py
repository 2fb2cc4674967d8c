"""Chapter 6's schematics: a recurrent network folded and unrolled in time, and the LSTM and
GRU cells with their gates.

Drawn with :mod:`book.plotting.schematic`, in the book's palette: inputs blue,
hidden state orange, outputs green, gates and operations grey, gradients red.
Each function returns ``(fig, ax)``.
"""
from __future__ import annotations

from book.checks import integer
from book.plotting import schematic as sch


def unrolled_rnn_figure(steps: int = 4, backward: bool = True):
    """The recurrence folded (one cell with a loop) and unrolled over ``steps`` time steps.

    The same three matrices serve every step: ``W_x`` (input to hidden),
    ``W_h`` (hidden to hidden) and ``V`` (hidden to output). With ``backward``
    dashed red arrows show the gradient flowing back through the hidden
    states: backpropagation through time.
    """
    steps = integer(steps, "steps", minimum=2, owner="unrolled_rnn_figure")
    if steps > 8:
        raise ValueError(f"unrolled_rnn_figure: steps must be at most 8 to stay legible, got {steps}")
    dx, x0 = 2.2, 4.9
    width = x0 + dx * steps + 0.4
    ax = sch.canvas(width, 5.4, scale=0.75)
    y_in, y_h, y_out = 0.8, 2.7, 4.6
    # folded
    fx = 1.4
    sch.circle(ax, (fx, y_in), "$x_t$", colour="input", radius=0.38)
    sch.box(ax, (fx, y_h), "$h_t$", width=1.0, height=0.7, colour="hidden", fontsize=11)
    sch.circle(ax, (fx, y_out), r"$\hat y_t$", colour="output", radius=0.38)
    sch.arrow(ax, (fx, y_in), (fx, y_h), "$W_x$", gap=0.38, gap_end=0.36, label_offset=0.32)
    sch.arrow(ax, (fx, y_h), (fx, y_out), "$V$", gap=0.36, gap_end=0.38, label_offset=0.3)
    sch.arrow(ax, (fx + 0.5, y_h - 0.25), (fx + 0.5, y_h + 0.25), curve=2.4, label=None)
    ax.text(fx + 0.85, y_h + 0.6, "$W_h$", ha="center", va="center", fontsize=9, color=sch.COLOURS["edge"])
    ax.text(fx + 1.45, y_h, "=", ha="center", va="center", fontsize=22)
    ax.text(fx, 5.25, "folded", ha="center", fontsize=9)
    ax.text(x0 + dx * (steps - 1) / 2 + 0.6, 5.25, f"unrolled over {steps} steps (the same $W_x$, $W_h$, $V$ at every step)",
            ha="center", fontsize=9)
    # unrolled
    prev = (x0 - dx + 0.9, y_h)
    sch.circle(ax, prev, "$h_0$", colour="hidden", radius=0.34)
    for t in range(1, steps + 1):
        x = x0 + dx * (t - 1) + 0.9
        sch.circle(ax, (x, y_in), f"$x_{t}$", colour="input", radius=0.34)
        sch.box(ax, (x, y_h), f"$h_{t}$", width=0.9, height=0.65, colour="hidden", fontsize=11)
        sch.circle(ax, (x, y_out), rf"$\hat y_{t}$", colour="output", radius=0.34)
        sch.arrow(ax, (x, y_in), (x, y_h), "$W_x$", gap=0.34, gap_end=0.33, label_offset=0.3, fontsize=8)
        sch.arrow(ax, (x, y_h), (x, y_out), "$V$", gap=0.33, gap_end=0.34, label_offset=0.25, fontsize=8)
        sch.arrow(ax, prev, (x, y_h), "$W_h$", gap=0.45, label_offset=0.2, fontsize=8)
        if backward:
            sch.arrow(ax, (x - 0.3, y_h - 0.45), (prev[0] + 0.3, y_h - 0.45), colour="grad", linestyle="--",
                      curve=0.25, label=None)
        prev = (x, y_h)
    if backward:
        ax.text(x0 + dx * (steps - 1) / 2 + 0.6, 0.05, r"backpropagation through time: $\partial L/\partial h$ flows right to left",
                ha="center", fontsize=8, color=sch.COLOURS["grad"])
    return ax.figure, ax


def _gate(ax, xy, fn, name):
    sch.box(ax, xy, fn, width=0.75, height=0.55, colour="param", fontsize=10)
    ax.text(xy[0], xy[1] - 0.5, name, ha="center", va="top", fontsize=8)


def _op(ax, xy, symbol):
    sch.circle(ax, xy, symbol, radius=0.24, colour="op", fontsize=11)


def lstm_cell_figure():
    """One LSTM step: the cell state runs along the top, touched only by ``f ⊙`` and ``+ i ⊙ g``.

    Three sigmoid gates (forget ``f``, input ``i``, output ``o``) and the tanh
    candidate ``g`` all read ``[h_{t-1}, x_t]``; ``c_t = f ⊙ c_{t-1} + i ⊙ g``
    and ``h_t = o ⊙ tanh(c_t)``.
    """
    ax = sch.canvas(11.0, 6.2, scale=0.7)
    y_c, y_gate, y_bus = 5.0, 2.6, 1.2
    gates = {"f": 2.6, "i": 4.1, "g": 5.4, "o": 7.2}
    # cell state line
    sch.box(ax, (0.7, y_c), "$c_{t-1}$", width=1.0, height=0.6, colour="hidden")
    sch.box(ax, (10.2, y_c), "$c_t$", width=0.8, height=0.6, colour="hidden")
    _op(ax, (gates["f"], y_c), r"$\odot$")
    _op(ax, (4.75, y_c), "$+$")
    sch.arrow(ax, (1.2, y_c), (gates["f"], y_c), gap_end=0.24)
    sch.arrow(ax, (gates["f"], y_c), (4.75, y_c), gap=0.24, gap_end=0.24)
    sch.arrow(ax, (4.75, y_c), (9.8, y_c), gap=0.24)
    ax.text(6.6, y_c + 0.35, "cell state: no weight matrix, no squashing on this path", ha="center", fontsize=8)
    # inputs: the bus [h_{t-1}, x_t]
    sch.box(ax, (0.7, y_bus), "$h_{t-1}$", width=1.0, height=0.6, colour="hidden")
    sch.circle(ax, (1.9, 0.3), "$x_t$", colour="input", radius=0.28)
    ax.plot([1.2, gates["o"]], [y_bus, y_bus], color=sch.COLOURS["edge"], lw=1.2)
    sch.arrow(ax, (1.9, 0.3), (1.9, y_bus), gap=0.28, gap_end=0.0)
    ax.text(2.2, y_bus - 0.45, "$[h_{t-1}, x_t]$", fontsize=8)
    names = {"f": ("$\\sigma$", "forget $f_t$"), "i": ("$\\sigma$", "input $i_t$"),
             "g": ("tanh", "candidate $g_t$"), "o": ("$\\sigma$", "output $o_t$")}
    for key, x in gates.items():
        sch.arrow(ax, (x, y_bus), (x, y_gate), gap=0.0, gap_end=0.28)
        _gate(ax, (x, y_gate), *names[key])
    # forget gate up to the cell line
    sch.arrow(ax, (gates["f"], y_gate), (gates["f"], y_c), gap=0.28, gap_end=0.24)
    # input gate times candidate, added to the cell
    _op(ax, (4.75, 3.8), r"$\odot$")
    sch.arrow(ax, (gates["i"], y_gate), (4.75, 3.8), gap=0.28, gap_end=0.24)
    sch.arrow(ax, (gates["g"], y_gate), (4.75, 3.8), gap=0.28, gap_end=0.24)
    sch.arrow(ax, (4.75, 3.8), (4.75, y_c), gap=0.24, gap_end=0.24)
    # output: h_t = o * tanh(c_t)
    sch.box(ax, (8.6, 3.8), "tanh", width=0.7, height=0.45, colour="op", fontsize=8)
    _op(ax, (8.6, y_gate), r"$\odot$")
    sch.arrow(ax, (8.6, y_c), (8.6, 3.8), gap=0.0, gap_end=0.23)
    sch.arrow(ax, (8.6, 3.8), (8.6, y_gate), gap=0.23, gap_end=0.24)
    sch.arrow(ax, (gates["o"], y_gate), (8.6, y_gate), gap=0.38, gap_end=0.24)
    sch.box(ax, (10.2, y_bus), "$h_t$", width=0.8, height=0.6, colour="hidden")
    sch.arrow(ax, (8.6, y_gate), (9.8, y_bus), gap=0.24)
    ax.text(5.5, 0.2, r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t, \quad h_t = o_t \odot \tanh(c_t)$",
            ha="center", fontsize=10)
    return ax.figure, ax


def gru_cell_figure():
    """One GRU step (torch's and Keras's convention): no cell state; the hidden state itself runs along the top.

    The update gate ``z`` mixes the old state and the candidate,
    ``h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}``; the reset gate ``r`` scales the
    recurrent part of the candidate, ``n = tanh(x W_xn + b_xn + r ⊙ (h W_hn + b_hn))`` in the
    book's row notation (torch stores ``W_hn`` transposed).
    """
    ax = sch.canvas(11.0, 6.2, scale=0.7)
    y_top, y_gate, y_bus = 5.0, 2.6, 1.2
    x_r, x_z, x_n = 2.8, 4.4, 6.6
    sch.box(ax, (0.7, y_top), "$h_{t-1}$", width=1.0, height=0.6, colour="hidden")
    sch.box(ax, (10.2, y_top), "$h_t$", width=0.8, height=0.6, colour="hidden")
    _op(ax, (x_z, y_top), r"$\odot$")
    _op(ax, (8.2, y_top), "$+$")
    sch.arrow(ax, (1.2, y_top), (x_z, y_top), gap_end=0.24)
    sch.arrow(ax, (x_z, y_top), (8.2, y_top), gap=0.24, gap_end=0.24)
    sch.arrow(ax, (8.2, y_top), (9.8, y_top), gap=0.24)
    ax.text(6.2, y_top + 0.35, r"kept: $z_t \odot h_{t-1}$", ha="center", fontsize=8)
    # the bus [h_{t-1}, x_t]
    ax.plot([0.7, 0.7], [y_top - 0.3, y_bus], color=sch.COLOURS["edge"], lw=1.2)
    ax.plot([0.7, x_n], [y_bus, y_bus], color=sch.COLOURS["edge"], lw=1.2)
    sch.circle(ax, (1.6, 0.3), "$x_t$", colour="input", radius=0.28)
    sch.arrow(ax, (1.6, 0.3), (1.6, y_bus), gap=0.28, gap_end=0.0)
    ax.text(1.9, y_bus - 0.45, "$[h_{t-1}, x_t]$", fontsize=8)
    for x, fn, name in ((x_r, "$\\sigma$", "reset $r_t$"), (x_z, "$\\sigma$", "update $z_t$"),
                        (x_n, "tanh", "candidate $n_t$")):
        sch.arrow(ax, (x, y_bus), (x, y_gate), gap=0.0, gap_end=0.28)
        _gate(ax, (x, y_gate), fn, name)
    # reset gate acts inside the candidate
    sch.arrow(ax, (x_r, y_gate), (x_n - 0.4, y_gate + 0.15), gap=0.38, gap_end=0.0, curve=-0.35, label=None)
    ax.text(1.2, 3.55, "reset, inside the candidate:\n" r"$r_t \odot (h_{t-1} W_{hn} + b_{hn})$",
            ha="left", va="center", fontsize=8)
    # update gate: z to the kept path, 1 - z to the candidate
    sch.arrow(ax, (x_z, y_gate), (x_z, y_top), gap=0.28, gap_end=0.24)
    _op(ax, (x_n + 1.6, 3.8), r"$\odot$")
    sch.box(ax, (x_n + 0.6, 3.8), "$1-z_t$", width=0.8, height=0.45, colour="op", fontsize=8)
    sch.arrow(ax, (x_z, 3.8), (x_n + 0.2, 3.8), gap=0.0, gap_end=0.0)
    sch.arrow(ax, (x_n + 1.0, 3.8), (x_n + 1.6, 3.8), gap=0.0, gap_end=0.24)
    sch.arrow(ax, (x_n, y_gate), (x_n + 1.6, 3.8), gap=0.28, gap_end=0.24)
    sch.arrow(ax, (x_n + 1.6, 3.8), (8.2, y_top), gap=0.24, gap_end=0.24)
    ax.text(5.5, 0.2, r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$  (no separate cell state)",
            ha="center", fontsize=10)
    return ax.figure, ax


__all__ = ["gru_cell_figure", "lstm_cell_figure", "unrolled_rnn_figure"]
