"""Backpropagation reaches every parameter, for both models and both encoder cells."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F


@pytest.mark.parametrize("cell", ["paper", "cudnn"])
@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_gradients_reach_every_parameter(make_model, make_batch, name, cell) -> None:
    # Random (non-paper) weights: with App. B.1's v_a = 0 the W_a/U_a gradients are exactly 0.
    model = make_model(name, encoder_cell=cell).train()
    src_ids, src_mask, tgt_in = make_batch((5, 3, 2), T=5)
    tgt_out = torch.roll(tgt_in, -1, dims=1)
    logits = model(src_ids, src_mask, tgt_in)  # (B, T, V)
    F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten()).backward()
    for n, p in model.named_parameters():
        assert p.grad is not None, f"{n} is not in the graph"
        assert torch.isfinite(p.grad).all(), n
        assert p.grad.abs().sum() > 0, f"{n} gets a zero gradient"


def test_padded_source_words_get_no_gradient(make_model, make_batch) -> None:
    model = make_model("rnnsearch").train()
    src_ids, src_mask, tgt_in = make_batch((5, 2))
    src_ids[1, 2:] = 12  # id 12 occurs only in padding
    src_ids[0][src_ids[0] == 12] = 1
    model(src_ids, src_mask, tgt_in).logsumexp(-1).sum().backward()
    assert (model.encoder.embedding.weight.grad[12] == 0).all()
