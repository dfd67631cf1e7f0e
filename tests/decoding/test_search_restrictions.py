"""Greedy and beam search under the decoding restrictions: GroundHog's length rule (no EOS before
|x| words, at most 3 (|x| + 1) steps), `ignore_unk`, and a beam of one equal to greedy with both."""

from __future__ import annotations

import math

import pytest
import torch

from rnnsearch.data.vocab import UNK_ID
from rnnsearch.decoding.search import beam_search, greedy_search, length_limits


def _search(kind: str, model, src, mask, **kw):
    if kind == "greedy":
        return greedy_search(model, src, mask, **kw)
    return beam_search(model, src, mask, beam_size=3, **kw)


@pytest.mark.parametrize("kind", ["greedy", "beam"])
def test_groundhog_rule_bans_early_eos_and_caps_steps(toy_model, padded_batch, kind) -> None:
    model = toy_model(True, seed=4, eos_bias=6.0)  # EOS wins at once when allowed
    src, mask = padded_batch
    n_words = mask.sum(dim=1) - 1  # |x|: the real tokens minus the source EOS
    max_len, min_len = length_limits(n_words, "groundhog")
    free = _search(kind, model, src, mask, max_len=max_len)
    assert all(len(ids) == 0 for ids in free.ids)  # without the rule: EOS first
    ruled = _search(kind, model, src, mask, max_len=max_len, min_len=min_len)
    for ids, ended, lo, hi in zip(ruled.ids, ruled.ended, min_len.tolist(), max_len.tolist(),
                                  strict=True):
        assert ended and len(ids) == lo  # the first step EOS may come, it comes
        assert len(ids) + 1 <= hi
    never_ends = toy_model(True, seed=4, eos_bias=-50.0)
    capped = _search(kind, never_ends, src, mask, max_len=max_len, min_len=min_len)
    assert [len(ids) for ids in capped.ids] == max_len.tolist()  # 3 (|x| + 1) steps exactly
    assert not any(capped.ended)


@pytest.mark.parametrize("kind", ["greedy", "beam"])
def test_ignore_unk_never_emits_unk(toy_model, kind) -> None:
    model = toy_model(True, seed=5, eos_bias=0.0)
    with torch.no_grad():
        model.decoder.readout.W_o.bias[UNK_ID] += 4.0  # [UNK] is the likeliest word
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, 11, (8, 6), generator=g)
    mask = torch.ones_like(src, dtype=torch.bool)
    allowed = _search(kind, model, src, mask, max_len=10)
    assert any(UNK_ID in ids for ids in allowed.ids)  # sensitivity: it would be emitted
    banned = _search(kind, model, src, mask, max_len=10, ignore_unk=True)
    assert not any(UNK_ID in ids for ids in banned.ids)
    assert all(math.isfinite(score) for score in banned.scores)


def test_beam_of_one_equals_greedy_under_restrictions(toy_model, padded_batch) -> None:
    model = toy_model(False, seed=6)
    src, mask = padded_batch
    max_len, min_len = length_limits(mask.sum(dim=1) - 1, "groundhog")
    kw = dict(max_len=max_len, min_len=min_len, ignore_unk=True)
    greedy = greedy_search(model, src, mask, **kw)
    beam = beam_search(model, src, mask, beam_size=1, **kw)
    assert beam.ids == greedy.ids and beam.ended == greedy.ended
    assert beam.scores == pytest.approx(greedy.scores, abs=1e-9)
