"""Chapter 2's schematic of a linear model as a one-layer network."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.linear_model import draw_linear_model  # noqa: E402


def _arrows(ax):
    from matplotlib.patches import FancyArrowPatch

    return [p for p in ax.patches if isinstance(p, FancyArrowPatch)]


@pytest.mark.parametrize("head, extra_arrows", [("identity", 1), ("sigmoid", 2)])
def test_one_output_labels_every_weight_and_the_bias(head, extra_arrows):
    _, ax = plt.subplots()
    parts = draw_linear_model(ax, n_inputs=4, n_outputs=1, head=head)
    assert len(parts["inputs"]) == 4 and len(parts["scores"]) == 1 and len(parts["outputs"]) == 1
    # d weights and one bias into the score, then the arrows of the head.
    assert len(_arrows(ax)) == 4 + 1 + extra_arrows
    assert len(parts["edges"]) == 4 + 1
    labels = [t.get_text() for t in parts["edge_labels"]]
    assert labels == ["$w_{1}$", "$w_{2}$", "$w_{3}$", "$w_{4}$", "$b$"]
    assert parts["bias"][1] < min(y for _, y in parts["inputs"])  # the constant 1 sits below the inputs
    assert missing_glyphs(ax.figure) == set()
    plt.close(ax.figure)


def test_softmax_joins_every_input_to_every_score():
    _, ax = plt.subplots()
    parts = draw_linear_model(ax, n_inputs=3, n_outputs=4, head="softmax")
    assert len(parts["scores"]) == 4 and len(parts["outputs"]) == 4
    # (d + 1) K edges into the scores, then two arrows per class around the softmax box.
    assert len(_arrows(ax)) == (3 + 1) * 4 + 2 * 4
    assert len(parts["edges"]) == (3 + 1) * 4 and len(set(parts["edges"])) == (3 + 1) * 4
    # Only the first column of W is labelled by default, with W_ik indexed (input, output).
    assert [t.get_text() for t in parts["edge_labels"]] == ["$W_{11}$", "$W_{21}$", "$W_{31}$", "$b_{1}$"]
    ys = [y for _, y in parts["scores"]]
    assert ys == sorted(ys, reverse=True)  # z_1 on top
    plt.close(ax.figure)
    _, ax = plt.subplots()
    parts = draw_linear_model(ax, n_inputs=2, n_outputs=2, head="softmax", label_all_edges=True)
    assert len(parts["edge_labels"]) == (2 + 1) * 2
    plt.close(ax.figure)


def test_bad_arguments():
    with pytest.raises(ValueError, match="head"):
        draw_linear_model(head="relu")
    with pytest.raises(ValueError, match="sigmoid head has one output"):
        draw_linear_model(n_outputs=3, head="sigmoid")
    with pytest.raises(ValueError, match="softmax head needs"):
        draw_linear_model(n_outputs=1, head="softmax")
    with pytest.raises(ValueError, match="n_inputs"):
        draw_linear_model(n_inputs=0)
    with pytest.raises(ValueError, match="n_outputs"):
        draw_linear_model(n_outputs=True)
    plt.close("all")
