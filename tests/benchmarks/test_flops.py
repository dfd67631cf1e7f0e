"""The analytic FLOP count of benchmarks/flops.py equals what torch's FLOP counter sees."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _common import make_update, model_config, paper_optimizer  # noqa: E402
from flops import forward_flops, sgemm_peak, update_flops  # noqa: E402

from rnnsearch.models import build_model  # noqa: E402

SIZES = dict(emb_dim=12, hidden_dim=20, attn_dim=16, maxout_dim=10)  # all different on purpose


def _model_and_batch(name: str, **overrides):
    # flops.py counts the reference loops' products (RNNencdec's scan_backward hoists C c out
    # of the decoder loop, a product fewer per step)
    args = argparse.Namespace(size="tiny", encoder_cell="paper", compile=False,
                              no_fused_encoder=False, scan_backward=False)
    cfg, vocab = model_config(name, args)
    cfg = dataclasses.replace(cfg, **SIZES, **overrides)
    torch.manual_seed(0)
    model = build_model(cfg, vocab, vocab)
    B, S, T = 3, 7, 5
    src = torch.randint(4, vocab, (B, S))
    tgt = torch.randint(4, vocab, (B, T + 1))
    batch = (src, torch.ones_like(src, dtype=torch.bool), tgt[:, :-1], tgt[:, 1:])
    return cfg, vocab, model, batch


def _readings(name: str) -> list[dict]:
    fields = {f.name for f in dataclasses.fields(model_config(name, argparse.Namespace(
        size="tiny", encoder_cell="paper", compile=False, no_fused_encoder=False))[0])}
    states = [{"readout_state": s} for s in ("current", "previous", "groundhog")]
    if "encdec_context" in fields and name == "rnnencdec":
        return [{**s, "encdec_context": c} for s in states for c in ("last_state", "tanh_layer")]
    return states


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_forward_count_equals_torch_flop_counter(name) -> None:
    for overrides in _readings(name):
        cfg, vocab, model, (src, mask, tgt_in, _) = _model_and_batch(name, **overrides)
        with FlopCounterMode(display=False) as counter:
            model(src, mask, tgt_in)
        B, S = src.shape
        counted = forward_flops(cfg, vocab, vocab, B, S, tgt_in.size(1))
        assert counted["total"] == counter.get_total_flops(), overrides


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_update_count_is_three_forwards_within_the_zero_initial_state(name) -> None:
    cfg, vocab, model, batch = _model_and_batch(name)
    with FlopCounterMode(display=False) as counter:
        make_update(model, paper_optimizer(model), batch)()
    B, S = batch[0].shape
    claimed = update_flops(cfg, vocab, vocab, B, S, batch[2].size(1))
    # Only dL/dh_0 of the encoder's zero initial state is never computed (one step of S).
    assert claimed >= counter.get_total_flops() > claimed * (1 - 1.5 / S)


def test_sgemm_peak_reports_a_positive_rate_at_the_thread_count() -> None:
    peak = sgemm_peak(torch.device("cpu"), torch.float32, sizes=(64, 128), seconds=0.05)
    assert peak["sgemm_peak_gflops"] > 0 and peak["sgemm_n"] in (64, 128)
    assert peak["threads"] == torch.get_num_threads() and peak["sgemm_dtype"] == "float32"
