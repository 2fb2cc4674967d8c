"""Counting what a model costs: parameters (:mod:`book.counting.params`),
training FLOPs and accelerator-hours (:mod:`book.counting.flops`), and
counts written for people (:func:`human_count`). Needs no framework to import.
"""
from book.counting import flops, params
from book.counting.units import human_count

__all__ = ["flops", "human_count", "params"]
