"""book.plotting.training_memory: the stacked memory budget of one training step."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from book.counting.training_memory import activation_bytes, model_state_bytes  # noqa: E402
from book.models.gpt import GPTConfig  # noqa: E402
from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.training_memory import PARTS, memory_budgets, training_memory_figure  # noqa: E402

CFG = GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=4, n_embd=32)


def test_budgets_add_up_to_the_formulas():
    b = memory_budgets(CFG, batch_size=4, n_params=1000)
    assert len(b) == 4
    fp32, fp32_ck, mixed, mixed_ck = b.values()
    states = model_state_bytes(1000, "adamw", "fp32")
    assert fp32["weights"] + fp32["gradients"] + fp32["optimizer"] == states["total"] == 16000
    # Mixed precision: 2 + 4 (master) bytes of weights, 2 of gradients, 8 of Adam state per parameter.
    assert (mixed["weights"], mixed["gradients"], mixed["optimizer"]) == (6000, 2000, 8000)
    act = activation_bytes(2, 32, 4, 64, 4, 32)
    assert fp32["activations"] == act["total"]
    ck = activation_bytes(2, 32, 4, 64, 4, 32, checkpoint=True)
    assert fp32_ck["activations"] == ck["total"] + ck["peak_extra"] < fp32["activations"]
    assert mixed_ck["activations"] < mixed["activations"] < fp32["activations"]
    for parts in b.values():
        assert parts["total"] == sum(parts[p] for p in PARTS)


def test_figure_stacks_four_parts_on_four_bars():
    ax, budgets = training_memory_figure(CFG, 4, n_params=1000, unit=1.0, unit_name="bytes", title="t")
    assert len(ax.patches) == 4 * len(PARTS)
    tops = [max(p.get_y() + p.get_height() for p in ax.patches if abs(p.get_x() + p.get_width() / 2 - i) < 1e-9)
            for i in range(4)]
    assert tops == pytest.approx([v["total"] for v in budgets.values()])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(PARTS)
    assert missing_glyphs(ax.figure) == set()
    plt.close("all")


def test_bad_unit():
    with pytest.raises(ValueError, match="unit"):
        training_memory_figure(CFG, 4, unit=0)
