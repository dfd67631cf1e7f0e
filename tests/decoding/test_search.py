"""Properties of greedy and beam search over the Seq2Seq protocol."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnsearch.data.vocab import BOS_ID, EOS_ID, UNK_ID
from rnnsearch.decoding import beam_select, search
from rnnsearch.decoding.search import beam_search, greedy_search, length_caps, length_limits
from rnnsearch.models.decoder_step import DecoderState, StepOutput
from rnnsearch.models.encoder_output import EncoderOutput


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
    model = toy_model(True, seed=5, eos_bias=0.8)
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


def test_length_limits_groundhog_counts_source_eos() -> None:
    """GroundHog sample.py: 3 * len(seq) steps and EOS banned for k < len(seq) / 2, with the
    source sequence holding its EOS (len(seq) = |x| + 1)."""
    lengths = torch.tensor([3, 1, 10])
    max_len, min_len = length_limits(lengths, "groundhog")
    assert max_len.tolist() == [12, 6, 33]
    assert min_len.tolist() == [2, 1, 5]
    max_len, min_len = length_limits(lengths, "ratio", ratio=2.0, offset=10)
    assert max_len.tolist() == [16, 12, 30] and min_len.tolist() == [0, 0, 0]


def test_beam_search_raises_on_nan_log_probs(toy_model, padded_batch) -> None:
    model = toy_model(True)
    with torch.no_grad():
        model.decoder.readout.W_o.weight[5, 0] = float("nan")  # logit 5 NaN -> all log p NaN
    src, mask = padded_batch
    with pytest.raises(FloatingPointError, match=r"^beam search: .* NaN at step 1 ") as err:
        beam_search(model, src, mask, beam_size=3, max_len=8)
    assert "\n" not in str(err.value)


def test_search_takes_special_ids_from_vocab() -> None:
    """No private copies of BOS/EOS/PAD/UNK ids that could drift from rnnsearch.data.vocab."""
    for module in (search, beam_select):
        tree = ast.parse(Path(module.__file__).read_text())
        assigned = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)}
        assert not {name for name in assigned if name.endswith("_ID")}
    assert (search.BOS_ID, search.EOS_ID, search.UNK_ID) == (BOS_ID, EOS_ID, UNK_ID)


@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stopping_when_decided_returns_the_exhaustive_search_result(toy_model, padded_batch,
                                                                    attention, seed) -> None:
    """Closing a sentence's beam once its best finished hypothesis beats every open one changes
    nothing (log-probabilities only fall as hypotheses grow), and it does save steps."""
    model = toy_model(attention=attention, seed=seed, eos_bias=3.0)
    steps = {"n": 0}
    step = model.step

    def counted(*args, **kwargs):
        steps["n"] += 1
        return step(*args, **kwargs)

    model.step = counted
    src, mask = padded_batch
    max_len, min_len = length_limits(mask.sum(dim=1), "groundhog", 2.0, 10)
    fast = beam_search(model, src, mask, 5, max_len, min_len=min_len, stop_when_decided=True)
    n_fast, steps["n"] = steps["n"], 0
    full = beam_search(model, src, mask, 5, max_len, min_len=min_len, stop_when_decided=False)
    assert fast.ids == full.ids
    assert fast.scores == pytest.approx(full.scores)
    assert n_fast <= steps["n"]
    if (seed, attention) == (0, True):  # here the best hypothesis ends early: steps are saved
        assert n_fast < steps["n"]


@pytest.mark.parametrize("attention", [True, False])
def test_length_normalize_ranks_by_score_per_token(toy_model, attention: bool) -> None:
    """decode.length_normalize: with a beam wide enough to keep every hypothesis of up to two
    words, the winner is the argmax of log p(y | x) / |y| (EOS counted) over all of them, found
    here by teacher-forcing each one; without it, the argmax of log p(y | x)."""
    model = toy_model(attention, seed=0, eos_bias=1.5)
    src, mask = torch.tensor([[5, 6, 7]]), torch.ones(1, 3, dtype=torch.bool)
    V = model.decoder.readout.W_o.out_features
    words = [w for w in range(V) if w != EOS_ID]
    hyps = [([], True), *(([a], True) for a in words),
            *(([a, b], False) for a in words for b in words)]  # ended, or capped at 2 words
    logp = [_teacher_forced_logprob(model, src, mask, ids, ended) for ids, ended in hyps]
    per_token = [lp / (len(ids) + ended) for lp, (ids, ended) in zip(logp, hyps, strict=True)]
    by_score, by_mean = (hyps[max(range(len(hyps)), key=v.__getitem__)]
                         for v in (logp, per_token))
    assert by_score != by_mean  # the two rules disagree here, so the test tells them apart
    for normalize, want in ((False, by_score), (True, by_mean)):
        res = beam_search(model, src, mask, beam_size=V * V, max_len=2, length_normalize=normalize)
        assert (res.ids[0], res.ended[0]) == want
