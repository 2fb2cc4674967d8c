"""Plots the chapters share: training curves (:func:`plot_history`), fonts
that can draw Chinese labels (:mod:`book.plotting.fonts`), and chapter 1's
figures (:mod:`book.plotting.landscape`,
:mod:`book.plotting.training_flops`).
"""
from book.plotting.curves import plot_history
from book.plotting.fonts import find_cjk_font, missing_glyphs

__all__ = ["find_cjk_font", "missing_glyphs", "plot_history"]
