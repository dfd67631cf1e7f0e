"""Fixtures for search and evaluation tests: small random models with peaked distributions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from rnnsearch.config import ModelConfig
from rnnsearch.data.vocab import BOS_ID, EOS_ID, PAD_ID
from rnnsearch.models import Seq2Seq, build_model

SRC_V, TGT_V = 11, 13


@pytest.fixture
def toy_model() -> Callable[..., Seq2Seq]:
    """Build a tiny float64 RNNsearch/RNNencdec whose word distributions are far from uniform.

    The paper's init (std 0.01, v_a = 0) gives near-uniform outputs, where argmax ties make search
    comparisons meaningless; std 0.5 weights make every choice clear-cut. `eos_bias` raises
    p(EOS) so hypotheses end at different lengths; PAD and BOS are made unlikely, as after
    training. The decoder is the config default (readout_state=groundhog).
    """

    def _build(attention: bool, seed: int = 0, eos_bias: float = 1.5) -> Seq2Seq:
        torch.manual_seed(seed)
        cfg = ModelConfig(
            name="rnnsearch" if attention else "rnnencdec", attention=attention,
            bidirectional=attention, emb_dim=8, hidden_dim=10, attn_dim=9, maxout_dim=6,
        )
        model = build_model(cfg, SRC_V, TGT_V).double().eval()
        with torch.no_grad():
            for param in model.parameters():
                nn.init.normal_(param, std=0.5)
            model.decoder.readout.W_o.bias[EOS_ID] += eos_bias
            model.decoder.readout.W_o.bias[[PAD_ID, BOS_ID]] -= 10.0  # never emitted once trained
        return model

    return _build


@pytest.fixture
def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Three source sentences of lengths 6, 3, 5, padded with PAD_ID = 0. Shapes: (3, 6) each."""
    g = torch.Generator().manual_seed(7)
    lengths = [6, 3, 5]
    src = torch.zeros(3, 6, dtype=torch.long)
    for b, n in enumerate(lengths):
        src[b, :n] = torch.randint(4, SRC_V, (n,), generator=g)
    return src, src != 0


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
