"""rnnsearch: Bahdanau, Cho & Bengio (2014) rebuilt on PyTorch, Lightning, Hydra and DVC."""

__version__ = "0.1.0"
