"""`index_select` (beam reordering) reorders every field of EncoderOutput and DecoderState."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.testing import assert_close

IDX = torch.tensor([2, 0, 0, 1])  # reorder, duplicate (beam expansion) and drop nothing


def _assert_rows(selected, original) -> None:
    fields = dataclasses.fields(original)
    assert fields, "no fields to check"
    for f in fields:  # every field, so a field added later without reordering fails here
        new, old = getattr(selected, f.name), getattr(original, f.name)
        if old is None:
            assert new is None, f.name
        elif isinstance(old, torch.Tensor):
            assert torch.equal(new, old[IDX]), f.name
        else:  # per-batch flags (DecoderState.started) are kept as they are
            assert new == old, f.name


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_index_select_reorders_every_field(make_model, make_batch, name) -> None:
    model = make_model(name)
    src_ids, src_mask, _ = make_batch((5, 3, 2))
    enc = model.encode(src_ids, src_mask)
    state = model.init_state(enc)
    _assert_rows(enc.index_select(IDX), enc)
    _assert_rows(state.index_select(IDX), state)
    later = model.step(torch.tensor([1, 4, 5]), state, enc).state  # groundhog: context is set
    assert later.context is not None
    _assert_rows(later.index_select(IDX), later)


@pytest.mark.parametrize("readout_state", ["groundhog", "current"])
@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_step_on_reordered_inputs_equals_reordered_step(
    make_model, make_batch, name, readout_state
) -> None:
    model = make_model(name, readout_state=readout_state)
    src_ids, src_mask, tgt_in = make_batch((5, 3, 2))
    enc = model.encode(src_ids, src_mask)
    state = model.step(tgt_in[:, 0], model.init_state(enc), enc).state
    out = model.step(tgt_in[:, 1], state, enc)
    moved = model.step(tgt_in[IDX, 1], state.index_select(IDX), enc.index_select(IDX))
    assert_close(moved.log_probs, out.log_probs[IDX], rtol=0, atol=1e-12)
    assert_close(moved.state.hidden, out.state.hidden[IDX], rtol=0, atol=1e-12)
    if out.alpha is not None:
        assert_close(moved.alpha, out.alpha[IDX], rtol=0, atol=1e-12)
