"""Decode a corpus: length-sorted batches, search per batch, results back in input order.

The one corpus decoder: training's greedy dev BLEU, the test-set translation and the Python
API use `decode_corpus`; the batches come from `batches.py` (also used by reference alignments
and the decode benchmark). Paper: Sec. 3 / App. A.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rnnsearch.data.batching import collate_source
from rnnsearch.decoding.batches import map_batches
from rnnsearch.decoding.search import Hypothesis, beam_search, greedy_search
from rnnsearch.decoding.settings import DecodeSettings


def search_batch(
    model: Any, src_ids: torch.Tensor, src_mask: torch.Tensor, n_words: torch.Tensor,
    settings: DecodeSettings,
) -> list[list[Hypothesis]]:
    """The `settings.n_best` best hypotheses per sentence of one batch, with the fallbacks.

    Shapes: src_ids, src_mask (B, S); n_words (B,) source words (EOS not counted).
    """
    max_len, min_len = settings.limits(n_words)  # (B,), (B,)
    if settings.greedy:
        res = greedy_search(model, src_ids, src_mask, max_len, min_len, settings.ignore_unk)
    else:
        res = beam_search(model, src_ids, src_mask, settings.beam_size, max_len,
                          settings.length_normalize, min_len, settings.ignore_unk,
                          stop_when_decided=settings.n_best == 1)
    if settings.fallback == "none":
        return [hyps[: settings.n_best] for hyps in res.n_best]
    return _with_fallbacks(model, src_ids, src_mask, n_words, settings, res.n_best)


def _with_fallbacks(
    model: Any, src_ids: torch.Tensor, src_mask: torch.Tensor, n_words: torch.Tensor,
    settings: DecodeSettings, n_best: list[list[Hypothesis]],
) -> list[list[Hypothesis]]:
    """GroundHog never returns a capped hypothesis when one ended; where none ended, retry."""
    ranked = [[h for h in hyps if h.ended] or hyps for hyps in n_best]
    failed = [j for j, hyps in enumerate(ranked) if not hyps[0].ended]
    retry = settings.retry()
    if failed and retry is not None:
        rows = torch.tensor(failed, device=src_ids.device)  # (F,) sentences to decode again
        again = search_batch(model, src_ids[rows], src_mask[rows], n_words[rows], retry)
        for j, hyps in zip(failed, again, strict=True):
            ranked[j] = hyps if hyps[0].ended else ranked[j]
    return [hyps[: settings.n_best] for hyps in ranked]


def decode_corpus(
    model: Any, srcs: Sequence[Sequence[int]], settings: DecodeSettings, device: torch.device,
    order: str = "longest_first",
) -> list[list[Hypothesis]]:
    """Decode every source (ids without EOS): `settings.n_best` hypotheses each, best first.

    Batches come from `batch_order(..., order)`; each is collated exactly as in training
    (x_1..x_Tx EOS, padded) and searched with `search_batch`.
    """

    def decode(idx: list[int]) -> list[list[Hypothesis]]:
        src_ids, src_mask = collate_source([srcs[i] for i in idx])  # (B, S): x_1..x_Tx EOS
        n_words = torch.tensor([len(srcs[i]) for i in idx])  # (B,)
        return search_batch(model, src_ids.to(device), src_mask.to(device), n_words.to(device),
                            settings)

    return map_batches([len(s) for s in srcs], settings.batch_size, order, decode)
