"""Properties of greedy and beam search over the Seq2Seq protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnsearch.models.seq2seq import DecoderState, EncoderOutput, StepOutput
from rnnsearch.search import BOS_ID, EOS_ID, beam_search, greedy_search, length_caps


def _teacher_forced_logprob(model, src, mask, ids: list[int], ended: bool) -> float:
    """log p(y | x) of one hypothesis (EOS included when it was emitted)."""
    tgt_out = ids + ([EOS_ID] if ended else [])
    tgt_in = torch.tensor([[BOS_ID, *tgt_out[:-1]]])
    logp = torch.log_softmax(model(src, mask, tgt_in), dim=-1)[0]  # (T, V)
    return float(sum(logp[i, tok] for i, tok in enumerate(tgt_out)))


@pytest.mark.parametrize("attention", [True, False])
def test_beam_of_one_equals_greedy(toy_model, padded_batch, attention: bool) -> None:
    model = toy_model(attention)
    src, mask = padded_batch
    greedy = greedy_search(model, src, mask, max_len=12)
    beam = beam_search(model, src, mask, beam_size=1, max_len=12)
    assert beam.ids == greedy.ids
    assert beam.ended == greedy.ended
    assert beam.scores == pytest.approx(greedy.scores, abs=1e-9)
    for a, b in zip(beam.attention, greedy.attention, strict=True):
        assert (a is None and b is None) or torch.allclose(torch.tensor(a), torch.tensor(b))


@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("beam_size", [1, 4])
def test_batch_decodes_like_single_sentences(toy_model, padded_batch, attention, beam_size):
    model = toy_model(attention, seed=1)
    src, mask = padded_batch
    caps = length_caps(mask.sum(dim=1), ratio=2.0, offset=3)
    batch = beam_search(model, src, mask, beam_size, caps)
    for b in range(src.size(0)):
        n = int(mask[b].sum())
        one = slice(b, b + 1)
        alone = beam_search(model, src[one, :n], mask[one, :n], beam_size, caps[one])
        assert batch.ids[b] == alone.ids[0]
        assert batch.scores[b] == pytest.approx(alone.scores[0], abs=1e-9)
        if attention:
            assert batch.attention[b].shape == alone.attention[0].shape


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_hypotheses_end_with_eos_or_hit_cap(toy_model, search: str) -> None:
    model = toy_model(True, seed=3, eos_bias=0.8)
    g = torch.Generator().manual_seed(0)
    src = torch.randint(4, 11, (16, 5), generator=g)
    mask = torch.ones_like(src, dtype=torch.bool)
    cap = 4
    if search == "greedy":
        res = greedy_search(model, src, mask, max_len=cap)
    else:
        res = beam_search(model, src, mask, beam_size=3, max_len=cap)
    assert set(res.ended) == {True, False}  # this seed exercises both ways of ending
    for ids, ended, attn in zip(res.ids, res.ended, res.attention, strict=True):
        assert EOS_ID not in ids and BOS_ID not in ids
        assert len(ids) + 1 <= cap if ended else len(ids) == cap
        assert attn.shape == (len(ids) + int(ended), 5)


@pytest.mark.parametrize("attention", [True, False])
def test_scores_equal_teacher_forced_logprob(toy_model, padded_batch, attention: bool) -> None:
    model = toy_model(attention, seed=2)
    src, mask = padded_batch
    res = beam_search(model, src, mask, beam_size=5, max_len=10)
    for b, (ids, ended, score) in enumerate(zip(res.ids, res.ended, res.scores, strict=True)):
        n = int(mask[b].sum())
        one = slice(b, b + 1)
        expected = _teacher_forced_logprob(model, src[one, :n], mask[one, :n], ids, ended)
        assert score == pytest.approx(expected, abs=1e-8)


def test_attention_rows_are_distributions_over_real_source(toy_model, padded_batch) -> None:
    src, mask = padded_batch
    res = beam_search(toy_model(True), src, mask, beam_size=3, max_len=8)
    for b, attn in enumerate(res.attention):
        assert attn.shape[1] == int(mask[b].sum())
        assert np.allclose(attn.sum(axis=1), 1.0, atol=1e-5)
    assert all(a is None for a in beam_search(toy_model(False), src, mask, 3, 8).attention)


class _TableModel:
    """Hand-crafted protocol model: p(y_i | y_{i-1}) from a fixed table, uniform attention.

    From BOS: p(3) = 0.5, p(4) = 0.4, p(5) = 0.1. After 3: p(EOS) = 0.4, p(3..5) = 0.2 each.
    After 4: p(EOS) = 0.9. Greedy takes 3 then EOS (0.5 * 0.4 = 0.20); a beam of two finds
    4 then EOS (0.4 * 0.9 = 0.36).
    """

    V = 6

    def __init__(self) -> None:
        eps = 1e-9
        table = torch.full((self.V, self.V), eps, dtype=torch.float64)
        table[BOS_ID, 3:6] = torch.tensor([0.5, 0.4, 0.1]).double()
        table[3, [EOS_ID, 3, 4, 5]] = torch.tensor([0.4, 0.2, 0.2, 0.2]).double()
        table[4, [EOS_ID, 3]] = torch.tensor([0.9, 0.1]).double()
        table[5, EOS_ID] = 1.0
        table[EOS_ID, EOS_ID] = 1.0
        self.log_table = (table / table.sum(dim=1, keepdim=True)).log()  # (V, V)

    def encode(self, src_ids, src_mask) -> EncoderOutput:
        h = torch.zeros(*src_ids.shape, 2, dtype=torch.float64)
        return EncoderOutput(h, None, src_mask, torch.zeros(src_ids.size(0), 1))

    def init_state(self, enc: EncoderOutput) -> DecoderState:
        return DecoderState(hidden=torch.zeros(enc.src_mask.size(0), 1))

    def step(self, y_prev, state, enc) -> StepOutput:
        alpha = enc.src_mask.double() / enc.src_mask.sum(dim=1, keepdim=True)  # (B, S)
        return StepOutput(self.log_table[y_prev], state, alpha)


def test_beam_finds_higher_scoring_sequence_than_greedy() -> None:
    model = _TableModel()
    src = torch.tensor([[5, 6, 7]])
    mask = torch.ones_like(src, dtype=torch.bool)
    greedy = greedy_search(model, src, mask, max_len=5)
    beam = beam_search(model, src, mask, beam_size=2, max_len=5)
    assert greedy.ids == [[3]] and beam.ids == [[4]]
    assert greedy.scores[0] == pytest.approx(math.log(0.20), abs=1e-6)
    assert beam.scores[0] == pytest.approx(math.log(0.36), abs=1e-6)


def test_length_caps_follow_ratio_and_offset() -> None:
    lengths = torch.tensor([3, 1])
    assert length_caps(lengths, ratio=2.0, offset=10).tolist() == [16, 12]
    assert length_caps(lengths, ratio=1.5, offset=0).tolist() == [4, 1]
