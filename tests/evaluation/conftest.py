"""Fixtures of the evaluation tests: a made-up test set for the explorer. The toy models
(`toy_model`, `padded_batch`) are in tests/conftest.py: tests/decoding uses them too."""

from __future__ import annotations

import pytest


@pytest.fixture
def explorer_files(tmp_path):
    """A made-up test set of 4 sentences, as prepare and translate leave it, for the explorer.

    Returns (prepared dir, translation dir, {sentence index: alpha (T, S)}); sentence 2 has no
    matrix, and its words need escaping in HTML. alpha rows: hypothesis + EOS; cols: source + EOS.
    """
    import numpy as np

    from rnnsearch.evaluation.alignment import save_examples
    from rnnsearch.heatmap import AlignmentExample
    from rnnsearch.io_utils import atomic_write_lines

    src = ["the cat sat", "a b c d e f g h i j k l", "x < y & z", "on the mat"]
    hyp = ["le chat", "a b c d e f g h i j k l", "x < y & z", "sur le tapis ."]
    ref = ["le chat était assis", "a b c d e f g h i j k l", "x < y & z", "sur le tapis"]
    prepared, trans = tmp_path / "prepared", tmp_path / "trans"
    atomic_write_lines(prepared / "test.en.tok", src)
    atomic_write_lines(prepared / "test.fr.tok", ref)
    atomic_write_lines(prepared / "test.fr.raw", ref)
    atomic_write_lines(trans / "test.hyp.tok", hyp)
    atomic_write_lines(trans / "test.hyp.detok", hyp)
    rng = np.random.default_rng(3)
    alphas = {}
    for i in (0, 1, 3):
        rows, cols = len(hyp[i].split()) + 1, len(src[i].split()) + 1
        alphas[i] = rng.dirichlet(np.full(cols, 0.3), size=rows).astype(np.float32)  # (T, S)
    save_examples(trans / "test.attention.npz", [
        AlignmentExample(i, src[i].split(), hyp[i].split(), a) for i, a in alphas.items()])
    return prepared, trans, alphas
