"""Output shapes of the protocol, and the boundary asserts that fire on a wrong shape."""

from __future__ import annotations

import dataclasses

import pytest
import torch

B, S, T, H, A, V = 3, 5, 4, 8, 7, 11


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_protocol_shapes_for_both_models(make_model, make_batch, name) -> None:
    model = make_model(name)
    src_ids, src_mask, tgt_in = make_batch((5, 3, 2), T=T)
    C = 2 * H if name == "rnnsearch" else H
    assert model(src_ids, src_mask, tgt_in).shape == (B, T, V)
    enc = model.encode(src_ids, src_mask)
    assert enc.annotations.shape == (B, S, C)
    assert enc.summary.shape == (B, H)
    assert enc.keys is None if name == "rnnencdec" else enc.keys.shape == (B, S, A)
    state = model.init_state(enc)
    assert state.hidden.shape == (B, H)
    out = model.step(tgt_in[:, 0], state, enc)
    assert out.log_probs.shape == (B, V) and out.state.hidden.shape == (B, H)
    assert out.alpha is None if name == "rnnencdec" else out.alpha.shape == (B, S)
    assert torch.allclose(out.log_probs.exp().sum(-1), torch.ones(B, dtype=torch.float64))


def test_float_mask_fires_encoder_assert(make_model, make_batch) -> None:
    model = make_model("rnnsearch")
    src_ids, src_mask, tgt_in = make_batch()
    with pytest.raises(AssertionError, match="bool"):
        model(src_ids, src_mask.double(), tgt_in)


def test_unbatched_source_fires_encoder_assert(make_model, make_batch) -> None:
    model = make_model("rnnencdec")
    src_ids, src_mask, _ = make_batch()
    with pytest.raises(AssertionError, match=r"\(B, S\)"):
        model.encode(src_ids[0], src_mask[0])
    with pytest.raises(AssertionError, match="match"):
        model.encode(src_ids, src_mask[:, :2])


def test_left_padding_fires_encoder_assert(make_model, make_batch) -> None:
    model = make_model("rnnsearch")
    src_ids, src_mask, _ = make_batch()
    # checked on the device (torch._assert_async: no host sync), which raises RuntimeError on the
    # CPU (a device-side assert on CUDA)
    with pytest.raises(RuntimeError, match="real token"):
        model.encode(src_ids, src_mask.flip(1))  # right padding only


def test_wrong_step_inputs_fire_step_assert(make_model, make_batch) -> None:
    model = make_model("rnnsearch")
    src_ids, src_mask, tgt_in = make_batch()
    enc = model.encode(src_ids, src_mask)
    state = model.init_state(enc)
    with pytest.raises(AssertionError, match=r"\(B,\)"):
        model.step(tgt_in[:, :1], state, enc)  # (B, 1) instead of (B,)
    with pytest.raises(AssertionError, match=r"\(B, H\)"):
        model.step(tgt_in[:, 0], dataclasses.replace(state, hidden=state.hidden[:, :2]), enc)
    with pytest.raises(AssertionError, match="index_select"):
        model.step(tgt_in[:2, 0], state.index_select(torch.tensor([0, 1])), enc)  # beams
