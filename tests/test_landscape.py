"""The model-size table and chapter 1's figures."""
import warnings

import matplotlib.pyplot as plt
import pytest

from book.counting import human_count
from book.data import model_sizes
from book.plotting import fonts, landscape

HEADER = ",".join(model_sizes.COLUMNS)
GOOD = 'GPT-3,2020,5,175000000000,300000000000,OpenAI,language,"Brown et al. 2020, arXiv:2005.14165"'


def write(tmp_path, *rows):
    path = tmp_path / "sizes.csv"
    path.write_text("\n".join((HEADER,) + rows) + "\n", encoding="utf-8")
    return path


def test_bundled_table_is_valid_and_sourced():
    models = model_sizes.load_model_sizes()
    assert 10 <= len(models) <= 16
    assert [m.date for m in models] == sorted(m.date for m in models)
    assert all(m.source and str(m.year) in m.source for m in models)
    by_name = {m.name: m for m in models}
    # Dated counts the chapter quotes (F-03, F-04, F-29).
    assert by_name["GPT-3"].parameters == 175_000_000_000 and by_name["GPT-3"].tokens == 300_000_000_000
    assert by_name["LLaMA-65B"].parameters == 65_200_000_000
    assert by_name["Chinchilla"].tokens_per_parameter == pytest.approx(20.0)
    assert by_name["AlexNet"].tokens is None and by_name["AlexNet"].tokens_per_parameter is None
    assert all(m.tokens is None for m in models if m.modality == "vision")


def test_loader_reads_a_good_row(tmp_path):
    (model,) = model_sizes.load_model_sizes(write(tmp_path, GOOD))
    assert model.name == "GPT-3" and model.tokens_per_parameter == pytest.approx(300 / 175)
    assert model.date == pytest.approx(2020 + 4.5 / 12)


@pytest.mark.parametrize(
    "row,message",
    [
        (GOOD.replace('"Brown et al. 2020, arXiv:2005.14165"', '""'), "empty source"),
        (GOOD.replace("175000000000", "-5"), "parameters must be positive"),
        (GOOD.replace("175000000000", "1.75e11"), "whole number"),
        (GOOD.replace("300000000000", "lots"), "whole number"),
        (GOOD.replace(",5,", ",13,"), "impossible date"),
        (GOOD.replace("language", "audio"), "modality"),
        (GOOD.replace("Brown et al. 2020", "Brown et al."), "does not name the year"),
        ("GPT-3,2020,5", "wrong number of fields"),
    ],
)
def test_loader_rejects_bad_rows(tmp_path, row, message):
    with pytest.raises(ValueError, match=message):
        model_sizes.load_model_sizes(write(tmp_path, row))


def test_loader_rejects_duplicates_wrong_header_and_empty_tables(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        model_sizes.load_model_sizes(write(tmp_path, GOOD, GOOD))
    bad = tmp_path / "bad.csv"
    bad.write_text("name,year\nx,2000\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected columns"):
        model_sizes.load_model_sizes(bad)
    with pytest.raises(ValueError, match="no rows"):
        model_sizes.load_model_sizes(write(tmp_path))


def test_figures_draw_without_warnings_or_missing_glyphs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models = model_sizes.load_model_sizes()
        for draw in (lambda: landscape.plot_concept_diagram(chinese=False),
                     lambda: landscape.plot_model_sizes(models),
                     lambda: landscape.plot_tokens_vs_parameters(models)):
            ax = draw()
            ax.figure.canvas.draw()
            assert fonts.missing_glyphs(ax.figure) == set()
            plt.close(ax.figure)


def test_missing_glyphs_catches_chinese_in_a_latin_font(monkeypatch):
    # Pretend DejaVu Sans could draw Chinese: the check must notice it cannot.
    monkeypatch.setattr(landscape, "find_cjk_font", lambda: "DejaVu Sans")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib warns about the glyphs too
        ax = landscape.plot_concept_diagram()
    assert set("深度学习") <= fonts.missing_glyphs(ax.figure)
    plt.close(ax.figure)


def test_chinese_labels_need_a_font(monkeypatch):
    monkeypatch.setattr(landscape, "find_cjk_font", lambda: None)
    with pytest.raises(ValueError, match="Chinese"):
        landscape.plot_concept_diagram(chinese=True)
    ax = landscape.plot_concept_diagram()  # falls back to English
    texts = [t.get_text() for t in ax.texts]
    assert all(t.isascii() for t in texts) and any("Deep learning" in t for t in texts)
    plt.close(ax.figure)


def test_find_cjk_font_skips_last_resort():
    font = fonts.find_cjk_font()
    assert font is None or "last resort" not in font.lower()


def test_plots_need_models():
    with pytest.raises(ValueError):
        landscape.plot_model_sizes([])
    vision_only = [m for m in model_sizes.load_model_sizes() if m.modality == "vision"]
    with pytest.raises(ValueError, match="token count"):
        landscape.plot_tokens_vs_parameters(vision_only)


def test_token_plot_draws_only_models_with_tokens():
    models = model_sizes.load_model_sizes()
    ax = landscape.plot_tokens_vs_parameters(models)
    (points,) = ax.collections
    assert len(points.get_offsets()) == sum(m.tokens is not None for m in models)
    plt.close(ax.figure)


def test_concept_regions_are_nested():
    boxes = [box for *_, box, _ in landscape.REGIONS]
    for (ox0, oy0, ox1, oy1), (ix0, iy0, ix1, iy1) in zip(boxes, boxes[1:]):
        assert ox0 < ix0 < ix1 < ox1 and oy0 < iy0 < iy1 < oy1


@pytest.mark.parametrize("value,text", [(175e9, "175 B"), (1.4e12, "1.4 T"), (25_557_032, "25.6 M"),
                                        (60_000, "60 k"), (999, "999"), (0, "0"),
                                        (999_999, "1 M"), (999_499, "999 k"), (999.6, "1 k")])
def test_human_count(value, text):
    assert human_count(value) == text


def test_human_count_rejects_nonsense():
    with pytest.raises(ValueError):
        human_count(float("nan"))
    with pytest.raises(ValueError):
        human_count(-1)


def assert_texts_inside_their_regions(ax):
    renderer = ax.figure.canvas.get_renderer()
    to_data = ax.transData.inverted()
    for text in ax.texts:
        gid = text.get_gid()
        if not gid:
            continue
        x0, y0, x1, y1 = landscape.REGIONS[int(gid.split("-")[1])][3]
        (tx0, ty0), (tx1, ty1) = to_data.transform(text.get_window_extent(renderer).get_points())
        assert x0 < tx0 and tx1 < x1 and y0 < ty0 and ty1 < y1, (text.get_text(), (tx0, ty0, tx1, ty1))


def test_labels_stay_inside_their_regions(monkeypatch):
    ax = landscape.plot_concept_diagram(chinese=False)
    assert_texts_inside_their_regions(ax)
    plt.close(ax.figure)
    # With Chinese names (drawn here with placeholder glyphs), long titles wrap instead of spilling over.
    monkeypatch.setattr(landscape, "find_cjk_font", lambda: "DejaVu Sans")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ax = landscape.plot_concept_diagram(chinese=True)
        assert_texts_inside_their_regions(ax)
    titles = [t.get_text() for t in ax.texts if t.get_gid() and t.get_fontweight() == "bold"]
    assert len(titles) == len(landscape.REGIONS)
    assert any("\n" in t for t in titles) and not all("\n" in t for t in titles)
    plt.close(ax.figure)


def test_training_flops_schematic_writes_the_counts_it_is_given():
    from book.plotting.training_flops import plot_training_flops

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plot_training_flops()
        ax.figure.canvas.draw()
    texts = [t.get_text() for t in ax.texts]
    assert sum("2 N FLOPs per token" in t for t in texts) == 3
    assert any("2N + 2N + 2N = 6N" in t and "6NT" in t for t in texts)
    assert fonts.missing_glyphs(ax.figure) == set()
    plt.close(ax.figure)
    ax = plot_training_flops((2, 2, 1.5))
    assert any("= 5.5N" in t for t in (t.get_text() for t in ax.texts))
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="3 numbers"):
        plot_training_flops((2, 4))
    with pytest.raises(ValueError, match="per_parameter"):
        plot_training_flops((2, 0, 2))
    plt.close("all")
