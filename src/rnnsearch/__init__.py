"""rnnsearch: Bahdanau, Cho & Bengio (2014) rebuilt on PyTorch, Lightning, Hydra and DVC."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """`from rnnsearch import Translator`, imported only when asked for (stages never are)."""
    if name == "Translator":
        from rnnsearch.inference.translator import Translator

        return Translator
    raise AttributeError(f"module 'rnnsearch' has no attribute {name!r}")
