"""Fixtures of the CUDA checks: tiny models from conf/model/*.yaml, padded batches, the paper
update of benchmarks/_common.py. Every test here is marked `gpu` and skips without CUDA."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


@pytest.fixture
def cuda() -> torch.device:
    """The CUDA device, with TF32 off so fp32 products are true fp32; skips without CUDA."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch.device("cuda")


@pytest.fixture
def tiny_model() -> Callable[..., torch.nn.Module]:
    """`tiny_model(name, encoder_cell="paper", size="tiny", random=False, **model_cfg)`: a
    seeded model on the CPU; `random` redraws every weight from N(0, 0.4^2), as
    tests/models/conftest.py does."""
    from _common import model_config  # noqa: PLC0415 (benchmarks/ is put on sys.path above)

    from rnnsearch.models import build_model  # noqa: PLC0415

    def _build(name: str, encoder_cell: str = "paper", size: str = "tiny",
               random: bool = False, **overrides: object) -> torch.nn.Module:
        args = argparse.Namespace(size=size, encoder_cell=encoder_cell, compile=False,
                                  no_fused_encoder=False)
        cfg, vocab = model_config(name, args)
        cfg = dataclasses.replace(cfg, **overrides)  # e.g. scan_backward=True
        torch.manual_seed(0)
        model = build_model(cfg, vocab, vocab)
        if random:  # the paper's v_a = 0 makes attention uniform: a device check could not fail
            gen = torch.Generator().manual_seed(0)
            with torch.no_grad():
                for p in model.parameters():
                    p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.4)
        model.vocab_size = vocab  # for the batch fixture
        return model

    return _build


@pytest.fixture
def padded_batch() -> Callable[..., tuple[torch.Tensor, ...]]:
    """`padded_batch(vocab, B, S, T)`: random ids, right-padded sources of lengths 3..S."""

    def _batch(vocab: int, B: int = 6, S: int = 9, T: int = 8) -> tuple[torch.Tensor, ...]:
        gen = torch.Generator().manual_seed(1)
        lengths = torch.randint(3, S + 1, (B,), generator=gen)
        lengths[0] = S
        mask = torch.arange(S)[None, :] < lengths[:, None]  # (B, S)
        src = torch.randint(4, vocab, (B, S), generator=gen).masked_fill(~mask, 0)  # (B, S)
        tgt = torch.randint(4, vocab, (B, T + 1), generator=gen)  # (B, T + 1)
        return src, mask, tgt[:, :-1], tgt[:, 1:]

    return _batch
