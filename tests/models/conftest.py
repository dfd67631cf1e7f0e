"""Fixtures for the model tests: tiny models with *non-paper* random weights, padded batches.

The paper's initialisation (v_a = 0, tiny weights) makes attention uniform and every output
nearly identical, so equality tests would pass even with wiring bugs. `make_model` therefore
redraws every parameter from N(0, 0.4^2) unless told otherwise, and runs in float64 so the
tolerances can be tight.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from rnnsearch.config import ModelConfig
from rnnsearch.models import Seq2Seq, build_model

SRC_VOCAB, TGT_VOCAB = 13, 11
TINY_SIZES = dict(emb_dim=6, hidden_dim=8, attn_dim=7, maxout_dim=5, maxout_pool=2)
MODEL_NAMES = ("rnnsearch", "rnnencdec")
CELLS = ("paper", "cudnn")


def tiny_config(name: str = "rnnsearch", **overrides: object) -> ModelConfig:
    """A `ModelConfig` for RNNsearch or RNNencdec at toy sizes."""
    attention = name == "rnnsearch"
    fields = dict(name=name, attention=attention, bidirectional=attention, **TINY_SIZES)
    fields.update(overrides)
    return ModelConfig(**fields)


def randomize_(model: torch.nn.Module, seed: int = 0, std: float = 0.4) -> torch.nn.Module:
    """Redraw every parameter (biases and v_a included) so no term of an equation vanishes."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * std)
    return model


@pytest.fixture
def make_model() -> Callable[..., Seq2Seq]:
    """`make_model(name, random=True, dtype=float64, seed=0, **cfg_overrides) -> Seq2Seq`."""

    def _make(
        name: str = "rnnsearch",
        random: bool = True,
        dtype: torch.dtype = torch.float64,
        seed: int = 0,
        **overrides: object,
    ) -> Seq2Seq:
        torch.manual_seed(seed)
        model = build_model(tiny_config(name, **overrides), SRC_VOCAB, TGT_VOCAB).to(dtype)
        if random:
            randomize_(model, seed)
        return model.eval()

    return _make


@pytest.fixture
def make_batch() -> Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """`make_batch(lengths, S=None, T=4, seed=0) -> (src_ids, src_mask, tgt_in)`.

    Padded positions hold random *non-PAD* ids, so only the mask can hide them from the model.
    """

    def _make(
        lengths: tuple[int, ...] = (5, 3, 2), S: int | None = None, T: int = 4, seed: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        S = S or max(lengths)
        src_ids = torch.randint(1, SRC_VOCAB, (len(lengths), S), generator=gen)  # (B, S)
        src_mask = torch.arange(S).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # (B, S)
        tgt_in = torch.randint(1, TGT_VOCAB, (len(lengths), T), generator=gen)  # (B, T)
        return src_ids, src_mask, tgt_in

    return _make


def pad_to(src_ids: torch.Tensor, src_mask: torch.Tensor, S: int, fill: int = 7):
    """Append padding columns (filled with a real-looking id) up to length S."""
    extra = S - src_ids.size(1)
    ids = torch.cat([src_ids, src_ids.new_full((src_ids.size(0), extra), fill)], dim=1)
    mask = torch.cat([src_mask, src_mask.new_zeros(src_mask.size(0), extra)], dim=1)
    return ids, mask


@pytest.fixture
def pad() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """`pad(src_ids, src_mask, S)`: the same batch with extra padding columns up to S."""
    return pad_to
