"""Padding never changes what real tokens produce: both models, both encoder cells."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

LENGTHS = (5, 3, 2)
CASES = [(n, c) for n in ("rnnsearch", "rnnencdec") for c in ("paper", "cudnn")]


@pytest.mark.parametrize(("name", "cell"), CASES)
def test_annotations_unchanged_by_extra_padding(make_model, make_batch, pad, name, cell) -> None:
    model = make_model(name, encoder_cell=cell)
    src_ids, src_mask, _ = make_batch(LENGTHS)
    ann = model.encoder(src_ids, src_mask)  # (B, 5, C)
    ids9, mask9 = pad(src_ids, src_mask, 9)
    ann9 = model.encoder(ids9, mask9)  # (B, 9, C)
    assert_close(ann9[:, :5][src_mask], ann[src_mask], rtol=0, atol=1e-12)
    assert (ann9[~mask9] == 0).all() and (ann[~src_mask] == 0).all()


@pytest.mark.parametrize(("name", "cell"), CASES)
def test_logits_unchanged_by_extra_padding(make_model, make_batch, pad, name, cell) -> None:
    model = make_model(name, encoder_cell=cell)
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    logits = model(src_ids, src_mask, tgt_in)
    logits9 = model(*pad(src_ids, src_mask, 9), tgt_in)
    assert_close(logits9, logits, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("name", "cell"), CASES)
def test_logits_of_item_alone_equal_item_in_padded_batch(make_model, make_batch, name, cell):
    model = make_model(name, encoder_cell=cell)
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    logits = model(src_ids, src_mask, tgt_in)  # (B, T, V)
    for b, L in enumerate(LENGTHS):
        alone = model(src_ids[b : b + 1, :L], src_mask[b : b + 1, :L], tgt_in[b : b + 1])
        assert_close(alone[0], logits[b], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_logits_of_prefix_unchanged_by_longer_target(make_model, make_batch, name) -> None:
    model = make_model(name)
    src_ids, src_mask, tgt_in = make_batch(LENGTHS, T=6)
    full = model(src_ids, src_mask, tgt_in)
    prefix = model(src_ids, src_mask, tgt_in[:, :3])
    assert_close(full[:, :3], prefix, rtol=0, atol=1e-12)  # the decoder is causal


def test_padding_ids_do_not_matter(make_model, make_batch, pad) -> None:
    model = make_model("rnnsearch")
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    a = model(*pad(src_ids, src_mask, 8, fill=0), tgt_in)
    b = model(*pad(src_ids, src_mask, 8, fill=12), tgt_in)
    assert torch.equal(a, b)
