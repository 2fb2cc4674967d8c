"""Chapter 7's encoder–decoder schematic and the attention-map plot."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.seq2seq import plot_attention_map, seq2seq_figure  # noqa: E402


def _texts(ax):
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("step", [0, 2, 4])
def test_seq2seq_figure_draws_both_sides_and_attends_at_the_chosen_step(step):
    source = ["7", "2", "9", "4"]
    fig, ax = seq2seq_figure(source, step=step)
    texts = _texts(ax)
    for j in range(1, 5):
        assert f"$h_{j}$" in texts and f"$s_{j}$" in texts
    assert "$s_5$" in texts and "$h_5$" not in texts        # the decoder runs one step longer: </s>
    assert texts.count("<s>") == 1 and texts.count("</s>") == 1 and texts.count("attend") == 5
    # the decoder writes the reversed source, then </s>
    outputs = [t for t in texts if t in source or t == "</s>"][-5:]
    assert outputs == ["4", "9", "2", "7", "</s>"]
    # one attention line per source token, the widest at the position reversal copies
    lines = ax.lines
    assert len(lines) == 4
    widths = [line.get_linewidth() for line in lines]
    peak = 3 - step if step < 4 else 3
    assert int(np.argmax(widths)) == peak
    weights = [float(t) for t in texts if t.startswith("0.")]
    assert len(weights) == 4 and abs(sum(weights) - 1) < 0.02
    assert any(f"step {step + 1}" in t for t in texts)
    assert missing_glyphs(fig) == set()
    plt.close(fig)


def test_seq2seq_figure_draws_given_weights():
    fig, ax = seq2seq_figure(["1", "2", "3"], target=["3", "2", "1"], step=1, weights=[0.2, 0.5, 0.3])
    assert [float(t) for t in _texts(ax) if t.startswith("0.")] == [0.2, 0.5, 0.3]
    assert int(np.argmax([line.get_linewidth() for line in ax.lines])) == 1
    plt.close(fig)


@pytest.mark.parametrize("kwargs, match", [
    (dict(source=["1"]), "source must be at least 2"),
    (dict(source=list("1234567")), "at most 6"),
    (dict(step=6), r"step must be an output step in \[0, 6\)"),
    (dict(step=True), "step must be a non-negative int"),
    (dict(weights=[0.5, 0.5]), "weights must be 5 non-negative numbers summing to 1"),
])
def test_seq2seq_figure_checks_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        seq2seq_figure(**kwargs)


def test_attention_map_shows_the_weights_with_token_labels():
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(5), size=4)
    ax = plot_attention_map(weights, list("abcde"), ["w", "x", "y", "z"], title="map")
    image = ax.images[0]
    assert np.array_equal(image.get_array(), weights)
    assert image.get_clim() == (0.0, 1.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcde")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["w", "x", "y", "z"]
    assert ax.get_title() == "map"
    assert missing_glyphs(ax.figure) == set()
    plt.close(ax.figure)
    with pytest.raises(ValueError, match=r"weights must have shape \(T, S\) = \(4, 5\)"):
        plot_attention_map(weights.T, list("abcde"), ["w", "x", "y", "z"])
    with pytest.raises(ValueError, match="source_tokens must be at least 1 non-empty strings"):
        plot_attention_map(weights, [], ["w"])
