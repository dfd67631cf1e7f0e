"""`EncoderOutput.keys2`: the logistic attention reads 2 U_a h_j precomputed once per sentence,
and its energies, alphas and contexts are bit-identical to doubling W_a s + U_a h_j every step."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from rnnsearch.models.attention import AdditiveAttention

LENGTHS = (5, 3, 2)


def _doubling_every_step(att: AdditiveAttention, query, keys, annotations, src_mask):
    """The logistic attention as it was: (W_a s + U_a h_j), then doubled, per step."""
    (B, S, A), C = keys.shape, annotations.size(-1)
    K = query.size(0) // B
    a = att.query_proj(query).view(B, K, 1, A) + keys.unsqueeze(1)  # (B, K, S, A)
    energies = F.linear(a.mul_(2.0).sigmoid_(), 2.0 * att.energy_proj.weight)
    energies = energies.squeeze(-1).masked_fill(~src_mask.unsqueeze(1), float("-inf"))
    alpha = torch.softmax(energies, dim=-1)  # (B, K, S)
    return torch.bmm(alpha, annotations).view(B * K, C), alpha.view(B * K, S)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("beam", [1, 4])
def test_precomputed_double_keys_are_bit_identical(dtype, beam) -> None:
    torch.manual_seed(0)
    B, S, H, C, A = 3, 6, 8, 10, 7
    att = AdditiveAttention(H, C, A, logistic=True).to(dtype)
    annotations = torch.randn(B, S, C, dtype=dtype) * 3
    src_mask = torch.arange(S)[None, :] < torch.tensor(LENGTHS)[:, None]  # (B, S)
    keys = att.precompute_keys(annotations)  # (B, S, A)
    query = torch.randn(B * beam, H, dtype=dtype) * 3  # grouped beams: K rows per sentence
    want = _doubling_every_step(att, query, keys, annotations, src_mask)
    for got in (att(query, keys, annotations, src_mask, 2.0 * keys),
                att(query, keys, annotations, src_mask)):
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_encode_precomputes_double_keys_for_the_logistic_attention_only(make_model, make_batch):
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    logistic = make_model("rnnsearch", logistic_attention=True, grouped_beam_source=True)
    enc = logistic.encode(src_ids, src_mask)
    assert torch.equal(enc.keys2, 2.0 * enc.keys)
    expand = torch.arange(len(LENGTHS)).repeat_interleave(3)
    for selected in (enc.index_select(expand), enc.index_select(torch.tensor([2, 0, 0, 1]))):
        assert torch.equal(selected.keys2, 2.0 * selected.keys)  # follows the rows
    shifted = dataclasses.replace(enc, keys=enc.keys.flip(1))
    assert torch.equal(shifted.keys2, 2.0 * shifted.keys)  # never stale
    assert make_model("rnnsearch").encode(src_ids, src_mask).keys2 is None
    assert make_model("rnnencdec", logistic_attention=True).encode(src_ids, src_mask).keys2 is None


def test_step_reads_the_precomputed_double_keys(make_model, make_batch) -> None:
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    model = make_model("rnnsearch", logistic_attention=True)
    enc = model.encode(src_ids, src_mask)
    state = model.init_state(enc)
    out = model.step(tgt_in[:, 0], state, enc)
    object.__setattr__(enc, "keys2", 2.0 * enc.keys.flip(1))  # only keys2 changed
    assert not torch.allclose(model.step(tgt_in[:, 0], state, enc).alpha, out.alpha)
