"""Chapter 1's figures: the map of AI, ML, representation learning and deep
learning, and published model sizes over time.

``plot_concept_diagram`` draws the nested regions; ``plot_model_sizes`` the
parameter timeline; ``plot_tokens_vs_parameters`` training data against model
size. Chapter 1 checks both figures with
:func:`book.plotting.fonts.missing_glyphs`.
"""
from __future__ import annotations

import math

from book.checks import positive
from book.plotting.fonts import find_cjk_font

# ----------------------------------------------------------------------------- concept diagram

# (English, Chinese, examples, (x0, y0, x1, y1), face colour). Each region lies inside the one before it.
REGIONS = (
    ("Artificial intelligence (AI)", "人工智能",
     "search and planning\nlogic, knowledge bases\nexpert systems\nconstraint solvers\ne.g. Deep Blue (chess)",
     (0, 0, 100, 62), "#eef2f7"),
    ("Machine learning (ML)", "机器学习",
     "linear and logistic models\ntrees, random forests,\n  gradient boosting\nSVMs, k-nearest neighbours\nnaive Bayes,\n  Gaussian mixtures\nk-means clustering",
     (22, 1.5, 98.5, 55.5), "#dce8f5"),
    ("Representation learning", "表示学习",
     "PCA, sparse coding\nshallow autoencoders\nword2vec embeddings",
     (46, 3, 97, 49), "#c5daf0"),
    ("Deep learning (DL)", "深度学习",
     "deep MLPs, CNNs\nRNNs, LSTMs\nTransformers",
     (68, 4.5, 95.5, 42.5), "#a9c8ea"),
    ("Foundation models", "基础模型 / 大模型",
     "BERT, GPT-3, LLaMA",
     (70, 15.5, 93.5, 28), "#f6d6a8"),
)
NLP_BAND = ("Natural language processing (NLP): a field that uses methods from every region",
            "自然语言处理", (6, 8, 96.5, 13.5))


def plot_concept_diagram(ax=None, chinese: bool | None = None):
    """Draw AI > ML > representation learning > DL > foundation models as nested
    regions, with examples in each ring and NLP as a field cutting across them.

    ``chinese=None`` adds Chinese labels when a CJK font is installed
    (``find_cjk_font``); ``True`` requires one; ``False`` labels in English only.
    Each region's texts carry the gid ``region-<index into REGIONS>``. Returns the axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    font = find_cjk_font()
    if chinese is None:
        chinese = font is not None
    if chinese and font is None:
        raise ValueError("no installed font can draw Chinese; pass chinese=False")
    text_kw = {"fontfamily": font} if chinese else {}
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 6.4))
    ax.set_xlim(-0.5, 100.5)
    ax.set_ylim(-0.5, 62.5)
    renderer = ax.figure.canvas.get_renderer()
    for i, (english, chinese_name, examples, (x0, y0, x1, y1), colour) in enumerate(REGIONS):
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=1.5",
                                    facecolor=colour, edgecolor="#34495e", linewidth=1.2))
        title = ax.text(x0 + 1.2, y1 - 1.3, f"{english}  {chinese_name}" if chinese else english,
                        ha="left", va="top", fontsize=10.5, fontweight="bold", gid=f"region-{i}", **text_kw)
        examples_top = y1 - 5.2
        if chinese:  # a Chinese name too long for the title line goes on a line of its own
            right = ax.transData.inverted().transform(title.get_window_extent(renderer).p1)[0]
            if right > x1 - 0.5:
                title.set_text(f"{english}\n{chinese_name}")
                examples_top -= 2.6
        ax.text(x0 + 1.2, examples_top, examples, ha="left", va="top", fontsize=8.5, linespacing=1.35,
                gid=f"region-{i}", **text_kw)
    label, chinese_name, (x0, y0, x1, y1) = NLP_BAND
    ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=1",
                                facecolor="none", edgecolor="#b03a2e", linewidth=1.5, linestyle="--"))
    band = f"{label}  ({chinese_name})" if chinese else label
    ax.text(x0 + 1.2, (y0 + y1) / 2, band, ha="left", va="center", fontsize=8.5, color="#b03a2e",
            style="italic", **text_kw)
    ax.axis("off")
    return ax


# ----------------------------------------------------------------------------- timeline

# Where each label sits relative to its point: (dx, dy) in points and alignment.
LABEL_OFFSETS = {
    "Chinchilla": (-6, 0, "right"),
    "PaLM": (-6, 0, "right"),
    "GPT-3": (-6, 0, "right"),
    "LLaMA-65B": (0, -11, "center"),
    "Llama 2 70B": (4, 8, "left"),
    "T5-11B": (-6, 0, "right"),
    "GPT-2 (1.5B)": (-6, 0, "right"),
    "BERT-base": (6, 0, "left"),
    "Transformer (base)": (5, -9, "left"),
    "ResNet-50": (0, -11, "center"),
    "BERT-large": (6, 0, "left"),
}


def plot_model_sizes(models, ax=None, offsets=None):
    """Parameters (log scale) against publication date, one marker per model.

    ``models`` is what ``load_model_sizes`` returns. ``offsets`` overrides
    ``LABEL_OFFSETS``: a mapping name -> (dx, dy, horizontal alignment).
    Returns the axes.
    """
    import matplotlib.pyplot as plt

    models = list(models)
    if not models:
        raise ValueError("plot_model_sizes needs at least one model")
    places = {**LABEL_OFFSETS, **(offsets or {})}
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5))
    styles = {"vision": ("s", "#1f77b4", "vision"), "language": ("o", "#d62728", "language")}
    for modality, (marker, colour, label) in styles.items():
        group = [m for m in models if m.modality == modality]
        if group:
            ax.scatter([m.date for m in group], [m.parameters for m in group], marker=marker, s=40,
                       color=colour, label=label, zorder=3)
    for m in models:
        dx, dy, ha = places.get(m.name, (6, 0, "left"))
        ax.annotate(m.name, (m.date, m.parameters), xytext=(dx, dy), textcoords="offset points",
                    ha=ha, va="center", fontsize=8)
    ax.set_yscale("log")
    low = min(m.parameters for m in models)
    high = max(m.parameters for m in models)
    ax.set_ylim(10 ** math.floor(math.log10(low)), 10 ** (math.ceil(math.log10(high)) + 0.3))
    first = min(m.year for m in models)
    last = max(m.year for m in models)
    ax.set_xlim(first - 1, last + 2)
    for value, text in ((1e6, "1 million"), (1e9, "1 billion")):
        ax.axhline(value, color="grey", linewidth=0.8, linestyle=":")
        ax.text(first - 0.8, value * 1.25, text, fontsize=8, color="grey")
    ax.set_xlabel("year of publication")
    ax.set_ylabel("parameters (log scale)")
    ax.set_title("Published model sizes")
    ax.grid(alpha=0.3, which="major")
    ax.legend(loc="lower right")
    return ax


TOKEN_LABEL_OFFSETS = {"LLaMA-65B": (-6, 0, "right"), "Llama 2 70B": (-6, 3, "right")}


def plot_tokens_vs_parameters(models, tokens_per_parameter: float = 20.0, ax=None, offsets=None):
    """Training tokens against parameters (log-log) for the models that published
    both, with the line T = r N (r = 20: Hoffmann et al.'s compute-optimal ratio).

    Points above the line saw more tokens per parameter than that ratio,
    points below fewer. ``offsets`` overrides ``TOKEN_LABEL_OFFSETS``
    (name -> (dx, dy, horizontal alignment)). Returns the axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    models = [m for m in models if m.tokens is not None]
    if not models:
        raise ValueError("no model in the list has a published token count")
    tokens_per_parameter = positive(tokens_per_parameter, "tokens_per_parameter", owner="plot_tokens_vs_parameters")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    n = np.array([m.parameters for m in models], dtype=float)
    t = np.array([m.tokens for m in models], dtype=float)
    ax.scatter(n, t, color="#d62728", zorder=3)
    places = {**TOKEN_LABEL_OFFSETS, **(offsets or {})}
    for m in models:
        dx, dy, ha = places.get(m.name, (6, 0, "left"))
        ax.annotate(m.name, (m.parameters, m.tokens), xytext=(dx, dy), textcoords="offset points",
                    ha=ha, va="center", fontsize=8)
    grid = np.logspace(np.log10(n.min()) - 0.5, np.log10(n.max()) + 0.5, 50)
    ax.plot(grid, tokens_per_parameter * grid, "k--", linewidth=1,
            label=f"T = {tokens_per_parameter:g} N (compute-optimal rule of thumb)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel("training tokens T")
    ax.set_title("Training data against model size")
    ax.grid(alpha=0.3, which="major")
    ax.legend(loc="upper left", fontsize=8)
    return ax
