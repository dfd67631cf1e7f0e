"""Beam search bookkeeping (two-stage top-k, back-pointer history, batched retiring, NaN check on
the chosen scores) returns exactly what the one-by-one search returned.

`reference_beam_search` (search_reference.py) is the search as it was before that rewrite, kept
verbatim as the reference (its loop, `_Beams` and the single top-k over beam x vocabulary). Every
comparison is exact: ids, scores, ended flags, attention arrays (values and dtype) and the n-best
lists in order. Ties are forced with a model whose log-probabilities are rounded to 1/4, where
the order of equal candidates is up to the top-k's implementation: the search must then fall
back to the single top-k and agree with it.
"""

from __future__ import annotations

import math

import pytest
import torch
from tests.decoding.search_reference import _Beams, assert_identical, reference_beam_search
from torch import nn

from rnnsearch.config import ModelConfig
from rnnsearch.data.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from rnnsearch.decoding import beam_select
from rnnsearch.decoding.search import (
    Hypothesis,
    beam_search,
    length_limits,
)
from rnnsearch.models import build_model
from rnnsearch.models.decoder_step import StepOutput

SRC_V, TGT_V = 17, 19


def _model(name: str, seed: int, dtype: torch.dtype, peaked: bool, **switches):
    """A random model: std-0.5 weights (clear-cut choices) or the paper's init (near-uniform)."""
    torch.manual_seed(seed)
    cfg = ModelConfig(name=name, attention=name == "rnnsearch", bidirectional=name == "rnnsearch",
                      emb_dim=8, hidden_dim=10, attn_dim=9, maxout_dim=6, **switches)
    model = build_model(cfg, SRC_V, TGT_V).to(dtype).eval()
    with torch.no_grad():
        if peaked:
            for param in model.parameters():
                nn.init.normal_(param, std=0.5)
        model.decoder.readout.W_o.bias[EOS_ID] += 1.5
        model.decoder.readout.W_o.bias[[PAD_ID, BOS_ID]] -= 10.0
    return model


class _Rounded:
    """A model whose log-probabilities are rounded to multiples of 1/4 (many exact ties), in
    every row or in the first `rows` rows only."""

    def __init__(self, model, rows: int | None = None) -> None:
        self.model, self.encode, self.init_state = model, model.encode, model.init_state
        self.rows = rows

    def step(self, y_prev, state, enc) -> StepOutput:  # noqa: D102
        out = self.model.step(y_prev, state, enc)
        log_probs = out.log_probs.clone()
        log_probs[: self.rows] = (log_probs[: self.rows] * 4).round() / 4
        return StepOutput(log_probs, out.state, out.alpha)


def _batch(seed: int, B: int, S: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random source sentences of lengths 1..S, padded. Shapes: (B, S) each."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, S + 1, (B,), generator=g)
    lengths[0] = S
    mask = torch.arange(S)[None, :] < lengths[:, None]  # (B, S)
    src = torch.randint(4, SRC_V, (B, S), generator=g).masked_fill(~mask, PAD_ID)
    return src, mask


def _limits(rule: str, mask: torch.Tensor) -> dict:
    """max_len / min_len per sentence from the source lengths, or one int cap."""
    if rule == "int":
        return dict(max_len=7)
    max_len, min_len = length_limits(mask.sum(dim=1) - 1, rule, 1.5, 2)
    return dict(max_len=max_len, min_len=min_len)


CASES = [  # (beam, rule, ignore_unk, length_normalize, stop_when_decided)
    (1, "groundhog", False, False, True),
    (2, "int", True, False, True),
    (5, "groundhog", True, False, True),
    (5, "ratio", False, True, True),
    (12, "groundhog", False, False, False),
    (12, "ratio", True, False, True),
    (20, "int", False, False, True),  # K + 1 > V: every word of every row is a candidate
]


@pytest.mark.parametrize(("beam", "rule", "ignore_unk", "norm", "decide"), CASES)
@pytest.mark.parametrize(("name", "dtype", "peaked", "switches"), [
    ("rnnsearch", torch.float64, True, {}),
    ("rnnsearch", torch.float32, False, {"logistic_attention": True,
                                         "grouped_beam_source": True}),
    ("rnnsearch", torch.float32, True, {"readout_state": "current"}),
    ("rnnencdec", torch.float64, True, {}),
])
def test_beam_search_equals_the_reference_exactly(beam, rule, ignore_unk, norm, decide, name,
                                                  dtype, peaked, switches) -> None:
    for seed in range(3):
        model = _model(name, seed, dtype, peaked, **switches)
        src, mask = _batch(seed, B=6, S=5)
        kw = dict(length_normalize=norm, ignore_unk=ignore_unk, stop_when_decided=decide,
                  **_limits(rule, mask))
        assert_identical(beam_search(model, src, mask, beam, **kw),
                          reference_beam_search(model, src, mask, beam, **kw))


@pytest.mark.parametrize("beam", [3, 12])
@pytest.mark.parametrize("rule", ["groundhog", "int"])
@pytest.mark.parametrize("tied", ["every sentence", "the first sentence"])
def test_ties_are_ranked_as_the_single_top_k_ranks_them(monkeypatch, beam, rule, tied) -> None:
    calls = {"full": 0, "sentences": set()}
    full = beam_select.select_topk

    def counted(scores, *args):
        calls["full"] += 1
        calls["sentences"].add(scores.size(0))
        return full(scores, *args)

    monkeypatch.setattr(beam_select, "select_topk", counted)
    for seed in range(4):
        model = _Rounded(_model("rnnsearch", seed, torch.float32, True),
                         None if tied == "every sentence" else beam)
        src, mask = _batch(seed, B=5, S=6)
        kw = _limits(rule, mask)
        assert_identical(beam_search(model, src, mask, beam, **kw),
                          reference_beam_search(model, src, mask, beam, **kw))
    assert calls["full"] > 0  # ties did occur and took the fallback
    if tied == "the first sentence":  # for the tied sentence only
        assert calls["sentences"] == {1}


def _uniform_model() -> _Rounded:
    """Every word equally likely at every step: every sentence ties, so after step 1 only the
    single top-k runs, with two stages tried again every PROBE_EVERY steps."""
    model = _model("rnnsearch", 0, torch.float32, True)
    uniform = _Rounded(model)

    def step(y_prev, state, enc) -> StepOutput:
        out = model.step(y_prev, state, enc)
        return StepOutput(torch.full_like(out.log_probs, -math.log(TGT_V)), out.state, out.alpha)

    uniform.step = step
    return uniform


def test_after_mostly_tied_steps_the_single_top_k_runs_alone(monkeypatch) -> None:
    """Every word equally likely: every sentence ties at every step. After the first step the
    single top-k runs alone, and two stages are tried again every PROBE_EVERY steps."""
    uniform = _uniform_model()
    steps = []
    two_stage = beam_select.select_topk_two_stage

    def counted(scores, log_probs, n_open, raw, t):
        steps.append(t)
        return two_stage(scores, log_probs, n_open, raw, t)

    monkeypatch.setattr(beam_select, "select_topk_two_stage", counted)
    src, mask = _batch(0, B=5, S=6)
    assert_identical(beam_search(uniform, src, mask, 3, 20),
                      reference_beam_search(uniform, src, mask, 3, 20))
    assert steps == [1, 8, 16]


def test_without_ties_the_two_stage_selection_decides_alone(monkeypatch) -> None:
    """Continuous scores: the single top-k over beam x vocabulary is never run."""
    def refuse(*args):
        raise AssertionError("full top-k used")

    monkeypatch.setattr(beam_select, "select_topk", refuse)
    model = _model("rnnsearch", 0, torch.float64, True)
    src, mask = _batch(0, B=6, S=5)
    assert beam_search(model, src, mask, 5, **_limits("groundhog", mask)).ids


class _NaNAt:
    """A model that writes NaN into log p[row, word] at step `t` (a copy: the model's is kept)."""

    def __init__(self, model, t: int, row: int, word: int) -> None:
        self.model, self.encode, self.init_state = model, model.encode, model.init_state
        self.t, self.row, self.word, self.n = t, row, word, 0

    def step(self, y_prev, state, enc) -> StepOutput:  # noqa: D102
        out = self.model.step(y_prev, state, enc)
        self.n += 1
        if self.n != self.t:
            return out
        log_probs = out.log_probs.clone()
        log_probs[self.row, self.word] = float("nan")
        return StepOutput(log_probs, out.state, out.alpha)


@pytest.mark.parametrize(("path", "t", "row", "word", "ignore_unk"), [
    ("two-stage", 1, 0, 7, False),  # a live row, an ordinary word
    ("two-stage", 1, 4, 7, False),  # an empty slot (score -inf) at the first step
    ("two-stage", 2, 2, EOS_ID, False),  # EOS under the minimum length: _forbid sets -inf
    ("two-stage", 3, 5, UNK_ID, True),  # [UNK] with ignore_unk: overwritten too
    ("two-stage", 4, 7, 5, False),  # the last slot of the second sentence
    ("single", 3, 0, 7, False),  # steps 2-7 of a tied model run the single top-k alone
    ("single", 5, 4, 9, False),
    ("single", 2, 2, EOS_ID, False),
    ("single", 3, 5, UNK_ID, True),
])
def test_a_nan_anywhere_in_the_log_probs_still_stops_the_search(path, t, row, word, ignore_unk):
    """Each selection path checks only the chosen scores and the overwritten words for NaN."""
    model = _uniform_model() if path == "single" else _model("rnnsearch", 0, torch.float64, True)
    src, mask = _batch(1, B=2, S=5)
    kw = dict(ignore_unk=ignore_unk, **_limits("groundhog", mask))
    errors = []
    for run in (beam_search, reference_beam_search):
        with pytest.raises(FloatingPointError) as err:
            run(_NaNAt(model, t, row, word), src, mask, 4, **kw)
        errors.append(str(err.value))
    assert errors[0] == errors[1]
    assert f"NaN at step {t} (beam rows [{row}])" in errors[0]


def test_a_nan_model_still_stops_the_search() -> None:
    model = _model("rnnsearch", 0, torch.float64, True)
    with torch.no_grad():
        model.decoder.readout.W_o.weight[5, 0] = float("nan")  # every log p NaN
    src, mask = _batch(0, B=3, S=4)
    with pytest.raises(FloatingPointError, match=r"^beam search: .* NaN at step 1 "):
        beam_search(model, src, mask, 3, 6)


def test_closing_decided_beams_compares_as_the_reference_did() -> None:
    """The reference compared the best finished score after a trip through the default float
    dtype: a beam whose best open score lies within that rounding above it is closed too."""
    done = -1.0 - 2.0**-30  # rounds up to -1.0 in float32
    scores = torch.tensor([[done + 2.0**-40, -5.0], [-0.5, -6.0]], dtype=torch.float64)  # (B, K)
    beams = _Beams(2, 2, 1, torch.device("cpu"))
    beams.scores = scores.clone()
    beams.close_decided([[Hypothesis([5], done, True, None)], [Hypothesis([5], done, True, None)]])
    got = beam_select.close_decided(scores, torch.tensor([done, done], dtype=torch.float64))
    assert torch.equal(got, beams.scores)
    assert torch.isinf(got[0]).all() and torch.isfinite(got[1, 0])
