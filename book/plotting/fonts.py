"""Fonts for figures with Chinese labels: find one that can draw Chinese, and
check a figure for characters its font cannot draw (matplotlib would show
empty boxes)."""
from __future__ import annotations

from functools import lru_cache

_CJK_PROBE = "人工智能机器学习深度表示基础模型大自然语言处理"


@lru_cache(maxsize=None)
def _charmap(path: str) -> frozenset:
    from matplotlib import ft2font

    return frozenset(ft2font.FT2Font(path).get_charmap())


@lru_cache(maxsize=1)
def find_cjk_font() -> str | None:
    """The family name of an installed font that can draw Chinese, or ``None``.

    Matplotlib's own "Last Resort" font is skipped: it draws a placeholder box
    for every character.
    """
    from matplotlib import font_manager

    for entry in sorted(font_manager.fontManager.ttflist, key=lambda e: e.name):
        if "last resort" in entry.name.lower():
            continue
        try:
            cmap = _charmap(entry.fname)
        except (OSError, RuntimeError):
            continue
        if all(ord(c) in cmap for c in _CJK_PROBE):
            return entry.name
    return None


def missing_glyphs(fig) -> set[str]:
    """Characters in ``fig``'s text that the font chosen for them cannot draw.

    Mathtext strings (between ``$`` signs, such as log-axis tick labels) are
    drawn with matplotlib's math fonts and are skipped.
    """
    from matplotlib import font_manager
    from matplotlib.text import Text

    missing: set[str] = set()
    for artist in fig.findobj(Text):
        text = artist.get_text()
        if not text or text.count("$") >= 2:
            continue
        path = font_manager.findfont(artist.get_fontproperties(), fallback_to_default=True)
        cmap = _charmap(path)
        missing |= {c for c in text if not c.isspace() and ord(c) not in cmap}
    return missing
