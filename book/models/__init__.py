"""Models, one module per topic: linear models in NumPy (:mod:`book.models.linear`),
multilayer perceptrons in NumPy and PyTorch (:mod:`book.models.mlp`), and the
source articles' networks rebuilt (:mod:`book.models.sources`).

Import the module you need; this package imports none of them, so that
``import book.models`` does not load torch.
"""
