"""Chapter 13's figures: log-scale trends with a fit and the two schematics."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from book.data.trends import doubling_time  # noqa: E402
from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.trends import log_trend_figure, moe_figure, saliency_pipeline_figure  # noqa: E402


def test_log_trend_figure_draws_points_labels_and_fit():
    dates, values = [2018.0, 2020.0, 2022.0], [1e20, 1e22, 1e24]
    fit = doubling_time(dates, values)
    fig, ax = log_trend_figure(dates, values, ["a", "b", "c"], "FLOPs", "t", fit=fit, fit_label="fit")
    assert ax.get_yscale() == "log"
    assert {t.get_text() for t in ax.texts} == {"a", "b", "c"}
    assert len(ax.lines) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="log_trend_figure"):
        log_trend_figure([2020.0], [0.0], ["a"], "y", "t")
    with pytest.raises(ValueError, match="log_trend_figure"):
        log_trend_figure([2020.0, 2021.0], [1.0], ["a"], "y", "t")


def test_log_trend_figure_moves_the_labels_it_is_told_to_move():
    fig, ax = log_trend_figure([2018.0, 2020.0], [1e20, 1e22], ["a", "b"], "FLOPs", "t",
                               label_offsets={"b": (4, -10)})
    offsets = {t.get_text(): t.xyann for t in ax.texts}
    assert offsets == {"a": (4, 4), "b": (4, -10)}
    plt.close(fig)
    with pytest.raises(ValueError, match="label_offsets"):
        log_trend_figure([2018.0, 2020.0], [1e20, 1e22], ["a", "b"], "FLOPs", "t", label_offsets={"c": (0, 0)})


def test_schematics_name_their_parts_and_render_every_glyph():
    fig = saliency_pipeline_figure()
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    for word in ("image", "network", "logit", "saliency", "deletion test"):
        assert word in text
    assert missing_glyphs(fig) == set()
    plt.close(fig)
    fig = moe_figure(n_experts=5, top_k=2)
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "router" in text and "expert 5 (FFN)" in text and "top 2 of 5" in text
    assert missing_glyphs(fig) == set()
    plt.close(fig)
    for kwargs in ({"n_experts": 2, "top_k": 3}, {"n_experts": 0}, {"n_experts": 9}):
        with pytest.raises(ValueError, match="moe_figure"):
            moe_figure(**kwargs)
