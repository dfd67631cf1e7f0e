"""The one corpus decoder (`rnnsearch.decoding.corpus`) returns exactly what each caller's own
batching loop returned before it existed: the references below are those loops, verbatim."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rnnsearch.data.batching import collate_source, pair_lengths, sorted_batches
from rnnsearch.decoding.batches import batch_order
from rnnsearch.decoding.corpus import decode_corpus
from rnnsearch.decoding.search import beam_search, greedy_search, length_limits
from rnnsearch.decoding.settings import DecodeSettings

SRC_V = 11  # the toy models' source vocabulary (tests/conftest.py: TOY_SRC_V)

CPU = torch.device("cpu")


def _corpus(n: int = 23, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(4, SRC_V, size=int(k)) for k in rng.integers(1, 12, size=n)]


def _old_greedy(model, srcs, batch_size, rule):
    """lit_module.greedy_translate before the decoding layer."""
    hyps, attention = [[] for _ in srcs], [None] * len(srcs)
    for idx in sorted_batches(pair_lengths(srcs, srcs), batch_size):
        src_ids, src_mask = collate_source([srcs[i] for i in idx])
        n_words = torch.as_tensor([len(srcs[i]) for i in idx])
        max_len, min_len = length_limits(n_words, rule, 2.0, 10)
        result = greedy_search(model, src_ids, src_mask, max_len, min_len)
        for k, i in enumerate(idx):
            hyps[i], attention[i] = result.ids[k], result.attention[k]
    return hyps, attention


def _old_beam(model, srcs, batch_size, beam, ignore_unk):
    """evaluation/translation.decode_corpus before the decoding layer."""
    order = sorted(range(len(srcs)), key=lambda i: (-len(srcs[i]), i))
    hyps, scores, attention = [[] for _ in srcs], [0.0] * len(srcs), [None] * len(srcs)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        src_ids, src_mask = collate_source([srcs[i] for i in idx])
        max_len, min_len = length_limits(torch.tensor([len(srcs[i]) for i in idx]), "groundhog")
        res = beam_search(model, src_ids, src_mask, beam, max_len, False, min_len, ignore_unk)
        for j, i in enumerate(idx):
            hyps[i], scores[i], attention[i] = res.ids[j], res.scores[j], res.attention[j]
    return hyps, scores, attention


def _same_attention(a, b) -> bool:
    return (a is None and b is None) or np.array_equal(a, b)


@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("rule", ["groundhog", "ratio"])
def test_greedy_corpus_decode_is_bit_identical_to_the_old_loop(toy_model, attention, rule):
    model, srcs = toy_model(attention).float(), _corpus()
    old_ids, old_attn = _old_greedy(model, srcs, 4, rule)
    settings = DecodeSettings(length_rule=rule, batch_size=4, greedy=True)
    new = [h[0] for h in decode_corpus(model, srcs, settings, CPU, order="shortest_first")]
    assert [h.ids for h in new] == old_ids
    assert all(_same_attention(h.attention, a) for h, a in zip(new, old_attn, strict=True))


@pytest.mark.parametrize("ignore_unk", [False, True])
def test_beam_corpus_decode_is_bit_identical_to_the_old_loop(toy_model, ignore_unk):
    model, srcs = toy_model(True).float(), _corpus()
    old_ids, old_scores, old_attn = _old_beam(model, srcs, 5, 3, ignore_unk)
    settings = DecodeSettings(beam_size=3, batch_size=5, ignore_unk=ignore_unk)
    new = [h[0] for h in decode_corpus(model, srcs, settings, CPU)]
    assert [h.ids for h in new] == old_ids
    assert [h.score for h in new] == old_scores  # exact: same batches, same arithmetic
    assert all(_same_attention(h.attention, a) for h, a in zip(new, old_attn, strict=True))


def test_batch_orders_match_the_callers_old_orders():
    lengths = [3, 1, 3, 7, 1, 2]
    shortest = sum(batch_order(lengths, 4, "shortest_first"), [])
    assert shortest == sum(sorted_batches(pair_lengths([np.zeros(n) for n in lengths],
                                                       [np.zeros(n) for n in lengths]), 4), [])
    assert sum(batch_order(lengths, 4, "longest_first"), []) == [3, 0, 2, 5, 1, 4]
    assert batch_order(lengths, 4, "input") == [[0, 1, 2, 3], [4, 5]]


def test_decode_settings_limits_are_the_length_rule():
    n = torch.tensor([1, 4, 9])
    max_len, min_len = DecodeSettings().limits(n)
    assert max_len.tolist() == [3 * (k + 1) for k in (1, 4, 9)]
    assert min_len.tolist() == [(k + 1) // 2 for k in (1, 4, 9)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DecodeSettings().beam_size = 3  # type: ignore[misc]


@pytest.mark.parametrize("group", ["beam", "greedy"])
def test_decode_settings_take_every_option_from_the_decode_config(compose_cfg, group: str):
    """conf/decode is the one home of the defaults of every decode a user asks for (the shell
    and the API build theirs with `from_config`): no option keeps a default of its own."""
    dcfg = compose_cfg(f"decode={group}").decode
    settings = DecodeSettings.from_config(dcfg)
    for field in dataclasses.fields(DecodeSettings):
        if field.name != "greedy":  # training's dev BLEU only; no config key
            assert getattr(settings, field.name) == dcfg[field.name], field.name
    assert DecodeSettings.from_config(dcfg, ignore_unk=False).ignore_unk is False


class _BeamWidths:
    """The Seq2Seq protocol, recording the rows of each search's first step (B * K)."""

    def __init__(self, model) -> None:
        self.model, self.widths, self._new = model, [], False
        self.init_state = model.init_state

    def encode(self, src_ids, src_mask):  # noqa: D102
        self._new = True
        return self.model.encode(src_ids, src_mask)

    def step(self, y_prev, state, enc):  # noqa: D102
        if self._new:
            self.widths.append(y_prev.size(0))
            self._new = False
        return self.model.step(y_prev, state, enc)


@pytest.mark.parametrize("fallback", ["none", "groundhog"])
def test_a_model_that_cannot_finish_gets_groundhogs_retries(toy_model, fallback):
    """EOS is all but impossible: GroundHog retries with [UNK] allowed, then doubles the beam
    while it is under the maximum; without the fallback the capped hypothesis is kept."""
    model = _BeamWidths(toy_model(True, eos_bias=-60.0).float())
    srcs = _corpus(n=3)
    settings = DecodeSettings(beam_size=2, batch_size=3, ignore_unk=True, fallback=fallback,
                              fallback_max_beam=8)
    (best, *_), *_ = decode_corpus(model, srcs, settings, CPU)
    assert not best.ended
    expected = [2, 2, 4, 8] if fallback == "groundhog" else [2]  # beam sizes of the attempts
    assert model.widths == [3 * k for k in expected]

