"""Alignment model, Eq. (5)-(6) and App. A.1.2: weights, padding, precomputed keys U_a h_j."""

from __future__ import annotations

import dataclasses

import torch
from torch.testing import assert_close

LENGTHS = (5, 3, 1)


def _query(model, B: int, seed: int = 0) -> torch.Tensor:
    H = model.decoder.cell.hidden_dim
    return torch.randn(B, H, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_attention_matches_eq6_written_out(make_model, make_batch) -> None:
    model = make_model("rnnsearch")
    src_ids, src_mask, _ = make_batch(LENGTHS)
    enc = model.encode(src_ids, src_mask)
    att = model.decoder.attention
    s = _query(model, len(LENGTHS))  # s_{i-1}
    context, alpha = att(s, enc.keys, enc.annotations, src_mask)
    W_a, U_a, b_a = att.query_proj.weight, att.key_proj.weight, att.key_proj.bias
    v_a = att.energy_proj.weight[0]
    for b, L in enumerate(LENGTHS):
        h = enc.annotations[b, :L]  # (L, 2H)
        e = torch.stack([v_a @ torch.tanh(W_a @ s[b] + U_a @ h[j] + b_a) for j in range(L)])
        a = torch.exp(e) / torch.exp(e).sum()
        assert_close(alpha[b, :L], a, rtol=0, atol=1e-12)
        assert_close(context[b], (a.unsqueeze(1) * h).sum(0), rtol=0, atol=1e-12)


def test_attn_weights_sum_to_one_and_zero_on_padding(make_model, make_batch) -> None:
    model = make_model("rnnsearch")
    src_ids, src_mask, tgt_in = make_batch(LENGTHS, S=7)
    enc = model.encode(src_ids, src_mask)
    state = model.init_state(enc)
    for i in range(tgt_in.size(1)):
        out = model.step(tgt_in[:, i], state, enc)
        assert_close(out.alpha.sum(-1), torch.ones(len(LENGTHS), dtype=torch.float64))
        assert (out.alpha[~src_mask] == 0).all()  # exactly zero, not merely small
        assert (out.alpha[src_mask] > 0).all()
        state = out.state


def test_attn_ignores_garbage_at_padded_positions(make_model, make_batch) -> None:
    model = make_model("rnnsearch")
    src_ids, src_mask, _ = make_batch(LENGTHS)
    enc = model.encode(src_ids, src_mask)
    pad = ~src_mask.unsqueeze(-1)
    junk_ann = enc.annotations.masked_fill(pad, 1e6)
    junk_keys = enc.keys.masked_fill(pad, -1e6)
    att = model.decoder.attention
    s = _query(model, len(LENGTHS))
    clean = att(s, enc.keys, enc.annotations, src_mask)
    dirty = att(s, junk_keys, junk_ann, src_mask)
    assert torch.equal(clean[1], dirty[1])
    assert_close(clean[0], dirty[0], rtol=0, atol=1e-12)


def test_step_uses_precomputed_keys_without_recomputing(make_model, make_batch) -> None:
    model = make_model("rnnsearch")
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    calls = []
    model.decoder.attention.key_proj.register_forward_hook(lambda *_: calls.append(1))
    enc = model.encode(src_ids, src_mask)
    assert len(calls) == 1  # U_a h_j once per sentence (App. A.1.2)
    state = model.init_state(enc)
    out = model.step(tgt_in[:, 0], state, enc)
    model.step(tgt_in[:, 1], out.state, enc)
    model(src_ids, src_mask, tgt_in)  # fused teacher-forced path: one encode, no recomputation
    assert len(calls) == 2
    # step reads enc.keys: different keys with the same annotations change the alignment.
    shifted = dataclasses.replace(enc, keys=enc.keys.flip(1))
    assert not torch.allclose(model.step(tgt_in[:, 0], state, shifted).alpha, out.alpha)


def test_keys_are_key_proj_of_annotations(make_model, make_batch) -> None:
    model = make_model("rnnsearch")
    src_ids, src_mask, _ = make_batch(LENGTHS)
    enc = model.encode(src_ids, src_mask)
    att = model.decoder.attention
    expected = enc.annotations @ att.key_proj.weight.T + att.key_proj.bias  # (B, S, A)
    assert_close(enc.keys, expected, rtol=0, atol=1e-12)
