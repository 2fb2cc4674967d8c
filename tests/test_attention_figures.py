"""Chapter 7's schematics: the attention computation, a Transformer block, the decoder-only model and its mask."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting import schematic as sch  # noqa: E402
from book.plotting.attention import attention_figure, decoder_figure, transformer_block_figure  # noqa: E402


def number(text: str) -> float:
    return float(text.replace("−", "-"))


@pytest.mark.parametrize("causal", [False, True])
def test_attention_figure_shows_the_numbers_torch_computes(causal):
    tokens, dim, seed = ["a", "b", "c", "d", "e"], 3, 7
    n = len(tokens)
    ax = attention_figure(tokens, dim=dim, causal=causal, seed=seed)
    # The cells come first, matrix by matrix: Q, Kᵀ, scores, weights, V, output.
    sizes = [n * dim, dim * n, n * n, n * n, n * dim, n * dim]
    cells = [t.get_text() for t in ax.texts[:sum(sizes)]]
    q_txt, k_txt, s_txt, w_txt, v_txt, o_txt = np.split(np.array(cells, dtype=object), np.cumsum(sizes)[:-1])
    q = np.array([number(t) for t in q_txt]).reshape(n, dim)
    k = np.array([number(t) for t in k_txt]).reshape(dim, n).T
    v = np.array([number(t) for t in v_txt]).reshape(n, dim)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)), is_causal=causal).numpy()
    shown = np.array([number(t) for t in o_txt]).reshape(n, dim)
    assert np.abs(shown - expected).max() <= 0.005 + 1e-12  # two decimals, from the matrices shown
    weights = np.array([number(t) for t in w_txt]).reshape(n, n)
    assert np.all(np.abs(weights.sum(axis=1) - 1) <= 0.005 * n)
    masked = n * (n - 1) // 2 if causal else 0
    assert list(s_txt).count("−∞") == masked
    assert np.count_nonzero(np.triu(weights, 1)) == (0 if causal else np.count_nonzero(np.triu(np.ones((n, n)), 1)))
    assert sum(isinstance(p, Rectangle) for p in ax.patches) == sum(sizes)
    assert missing_glyphs(ax.figure) == set()
    plt.close("all")


def test_attention_figure_checks_its_arguments():
    for bad in (0, 5, 2.0):
        with pytest.raises(ValueError, match="attention_figure: dim"):
            attention_figure(dim=bad)
    for bad in (["one"], ["a", ""], "ab"[:1]):
        with pytest.raises(ValueError, match="attention_figure: tokens must be at least 2 non-empty strings"):
            attention_figure(tokens=bad)


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_figure_has_both_sublayers_and_both_residuals(causal):
    ax = transformer_block_figure(causal=causal, mlp_ratio=4)
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("LayerNorm") == 2 and texts.count("+") == 2  # pre-LN: one norm and one sum per sub-layer
    assert any("E→4E" in t and "GELU" in t for t in texts)
    assert any(t.startswith("masked multi-head") for t in texts) == causal
    assert len(ax.lines) == 2  # the two residual paths
    assert missing_glyphs(ax.figure) == set()
    plt.close("all")
    with pytest.raises(ValueError, match="mlp_ratio"):
        transformer_block_figure(mlp_ratio=0)


def test_decoder_figure_predicts_the_next_token_under_a_lower_triangular_mask():
    tokens = ["to", "be", "or", "not", "to", "be"]
    fig, (model, mask) = decoder_figure(tokens, n_layers=4)
    n = len(tokens) - 1
    model_texts = [t.get_text() for t in model.texts]
    assert model_texts[:2 * n:2] == tokens[:-1] and model_texts[1:2 * n:2] == tokens[1:]  # inputs and targets
    assert any("× 4" in t for t in model_texts)
    cells = [p for p in mask.patches if isinstance(p, Rectangle)]
    grey = to_hex(sch.COLOURS["dropped"])
    hidden = [p for p in cells if to_hex(p.get_facecolor()) == grey]
    assert len(cells) == n * n and len(hidden) == n * (n - 1) // 2
    # Every masked cell lies above the diagonal: its column (key) comes after its row (query).
    x0, top = min(p.get_x() for p in cells), max(p.get_y() + p.get_height() for p in cells)
    size = cells[0].get_width()
    for p in hidden:
        row, col = round((top - p.get_y()) / size) - 1, round((p.get_x() - x0) / size)
        assert col > row
    assert [t.get_text() for t in mask.texts].count("−∞") == n * (n - 1) // 2
    assert missing_glyphs(fig) == set()
    plt.close(fig)


def test_decoder_figure_checks_its_arguments():
    with pytest.raises(ValueError, match="at least 3 non-empty strings"):
        decoder_figure(["a", "b"])
    with pytest.raises(ValueError, match="at most 9 tokens"):
        decoder_figure(list("abcdefghij"))
    with pytest.raises(ValueError, match="n_layers must be a label"):
        decoder_figure(n_layers=True)
