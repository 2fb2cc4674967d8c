"""Chapter 6's schematics: the unrolled RNN, the LSTM and GRU cells."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.rnn import gru_cell_figure, lstm_cell_figure, unrolled_rnn_figure  # noqa: E402


def _texts(ax):
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("steps", [2, 5])
def test_unrolled_figure_draws_one_column_per_step(steps):
    fig, ax = unrolled_rnn_figure(steps=steps)
    texts = _texts(ax)
    assert all(f"$h_{t}$" in texts and f"$x_{t}$" in texts for t in range(1, steps + 1))
    assert f"$h_{steps + 1}$" not in texts and "$h_0$" in texts
    assert texts.count("$W_h$") == steps + 1          # every step shares W_h (and the folded loop)
    assert any("backpropagation through time" in t for t in texts)
    assert missing_glyphs(fig) == set()
    plt.close(fig)
    fig, ax = unrolled_rnn_figure(steps=3, backward=False)
    assert not any("backpropagation" in t for t in _texts(ax))
    plt.close(fig)


@pytest.mark.parametrize("steps", [1, 9, 2.0, True])
def test_unrolled_figure_checks_steps(steps):
    with pytest.raises(ValueError, match="unrolled_rnn_figure"):
        unrolled_rnn_figure(steps=steps)


def test_gate_cells_name_their_gates():
    fig, ax = lstm_cell_figure()
    texts = " ".join(_texts(ax))
    for name in ("forget $f_t$", "input $i_t$", "candidate $g_t$", "output $o_t$", "$c_{t-1}$", "$c_t$"):
        assert name in texts
    assert missing_glyphs(fig) == set()
    plt.close(fig)
    fig, ax = gru_cell_figure()
    texts = " ".join(_texts(ax))
    for name in ("reset $r_t$", "update $z_t$", "candidate $n_t$", "$1-z_t$"):
        assert name in texts
    assert "$c_t$" not in texts                        # a GRU has no cell state
    assert r"h_{t-1} W_{hn} + b_{hn}" in texts          # the chapter's row notation, not torch's stored W^T
    assert missing_glyphs(fig) == set()
    plt.close(fig)
