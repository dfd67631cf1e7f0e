"""Choosing the beam's next hypotheses: top-k over (slot, word) pairs, NaN checks, closing beams.

The selection is exact: `select_topk_two_stage` finds the K best from each row's K + 1 best
words and falls back to the single top-k (`select_topk`) where ties leave the order to the
top-k's implementation, so every path ranks as one top-k over all B*K*V candidates would.
Used by `search.beam_search`.
"""

from __future__ import annotations

import math

import torch

from rnnsearch.data.vocab import EOS_ID, UNK_ID


def check_finite(log_probs: torch.Tensor, t: int) -> None:
    """Raise one line if the model produced NaN: a ranked NaN would silently corrupt the beam."""
    if bool(torch.isnan(log_probs).any()):
        rows = torch.isnan(log_probs).any(dim=-1).nonzero().flatten()[:5].tolist()
        raise FloatingPointError(
            f"beam search: the model's log-probabilities are NaN at step {t} (beam rows {rows}); "
            "the checkpoint's weights or the computation are not finite"
        )


def close_decided(scores: torch.Tensor, best_done: torch.Tensor) -> torch.Tensor:
    """Empty the beams whose best finished score is at least their best open score.

    best_done is compared in the default float dtype, as a tensor built from the finished
    scores' Python floats is (this keeps the beams' outputs exactly as they were).

    Shapes: scores (B, K); best_done (B,) -> (B, K)
    """
    best = best_done.to(torch.get_default_dtype())  # (B,)
    decided = best[:, None] >= scores.max(dim=1, keepdim=True).values  # (B, 1)
    return scores.masked_fill(decided, -math.inf)


def _best_pairs(scores: torch.Tensor, log_probs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The K best (slot, word) pairs of each sentence: one top-k over all B*K*V of them.

    Shapes: scores (B, K); log_probs (B*K, V) ->
        slot (B, K) parent slot, token (B, K), their scores (B, K), sorted best first
    """
    B, K = scores.shape
    V = log_probs.size(-1)
    # float64 + float32 promotes each log-probability exactly, without a float64 copy first
    cand = torch.add(scores[:, :, None], log_probs.view(B, K, V)).view(B, K * V)  # (B, K*V)
    top, flat = cand.topk(K, dim=-1)  # (B, K)
    return flat // V, flat % V, top


def select_topk(
    scores: torch.Tensor, log_probs: torch.Tensor, n_open: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The best continuations: at most n_open[b] of them for sentence b (the beam shrinks).

    One top-k over every (slot, word) pair. `select_topk_two_stage` finds the same ones
    faster; this is its fallback where ties leave the order to the top-k's implementation.

    Shapes: scores (B, K); log_probs (B*K, V); n_open (B,) ->
        slot (B, K) parent slot, token (B, K), new scores (B, K) (-inf for empty slots)
    """
    slot, token, top = _best_pairs(scores, log_probs)
    return slot, token, _shrink(top, n_open)


def select_topk_checked(
    scores: torch.Tensor, log_probs: torch.Tensor, n_open: torch.Tensor,
    raw_log_probs: torch.Tensor, t: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`select_topk`, raising FloatingPointError where the model's log-probabilities hold NaN.

    A NaN ranks first in a top-k, so the K chosen scores (before the beam shrinks) and the
    words `_forbid` overwrote find any NaN anywhere, without a pass over all B*K*V of them.

    Shapes: as `select_topk`; raw_log_probs (B*K, V) the model's, before `_forbid`
    """
    slot, token, top = _best_pairs(scores, log_probs)
    if bool(_has_nan(top, raw_log_probs)):
        check_finite(raw_log_probs, t)
    return slot, token, _shrink(top, n_open)


def _has_nan(top: torch.Tensor, raw_log_probs: torch.Tensor) -> torch.Tensor:
    """NaN among the chosen scores or the words `_forbid` may overwrite ([EOS], [UNK]).

    Shapes: top (B, K); raw_log_probs (B*K, V) -> () bool
    """
    special = raw_log_probs[:, [EOS_ID, UNK_ID]]  # (B*K, 2)
    return torch.isnan(top).any() | torch.isnan(special).any()


def _shrink(top: torch.Tensor, n_open: torch.Tensor) -> torch.Tensor:
    """-inf for the ranks past each sentence's open slots. Shapes: top (B, K); n_open (B,)."""
    rank = torch.arange(top.size(1), device=top.device)[None, :]  # (1, K)
    return top.masked_fill(rank >= n_open[:, None], -float("inf"))


# Where most sentences of a step tied, the next steps run the single top-k alone (the same
# result: it is what the two-stage selection falls back to), trying two stages again every
# PROBE_EVERY steps. A freshly initialised model ties at most steps; a trained one rarely.
PROBE_EVERY = 8


def select_topk_two_stage(
    scores: torch.Tensor, log_probs: torch.Tensor, n_open: torch.Tensor,
    raw_log_probs: torch.Tensor, t: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """`select_topk` from the K + 1 best words of each row instead of all B*K*V pairs.

    A row's word order is its sentence's candidate order (its score is one constant added), so
    every candidate that can enter the K best is among its row's K + 1 best; the (K + 1)-th
    tells whether one more of the row could tie the K-th. When the K chosen scores are strictly
    decreasing (apart from -inf, an empty slot whose word is never read) and no other candidate
    equals the K-th, the K best are unique and both selections agree exactly. Otherwise ties
    were ranked by the top-k's implementation (on CPU, a heap: not by index), so the full top-k
    is run as before for those sentences. Trained models rarely tie; a freshly initialised one
    (near-uniform float32 log-probabilities) ties in most sentences at most steps.

    Raises FloatingPointError (`check_finite`) when the model's log-probabilities contain NaN:
    a NaN ranks first in a top-k, so checking the K chosen scores (and the words `_forbid`
    overwrote) finds any NaN anywhere.

    Shapes: scores (B, K); log_probs, raw_log_probs (B*K, V); n_open (B,) -> as `select_topk`,
        and the number of tied sentences
    """
    B, K = scores.shape
    V = log_probs.size(-1)
    k1 = min(K + 1, V)
    word_lp, word = log_probs.topk(k1, dim=-1)  # (B*K, k1) each row's best words
    cand = (scores.view(B * K, 1) + word_lp.double()).view(B, K * k1)  # (B, K*k1)
    top, pick = cand.topk(K, dim=-1)  # (B, K)
    kth = top[:, -1:]  # (B, 1)
    distinct = ((top[:, :-1] > top[:, 1:]) | (top[:, 1:] == -math.inf)).all(dim=1)  # (B,)
    kth_alone = (kth == -math.inf) | ((cand >= kth).sum(dim=1, keepdim=True) == K)  # (B, 1)
    tied = ~(distinct & kth_alone[:, 0])  # (B,)
    nan = _has_nan(top, raw_log_probs)
    any_nan, n_tied = torch.stack([nan.long(), tied.sum()]).tolist()  # one host sync
    if any_nan:
        check_finite(raw_log_probs, t)
    slot = pick // k1  # (B, K)
    token = word.view(B, K * k1).gather(1, pick)  # (B, K)
    if n_tied:  # the single top-k for those sentences (a top-k ranks rows apart)
        redo = tied.nonzero()[:, 0]  # (R,)
        rows = log_probs.view(B, K, V).index_select(0, redo).view(-1, V)  # (R*K, V)
        slot[redo], token[redo], top[redo] = select_topk(scores[redo], rows, n_open[redo])
    return slot, token, _shrink(top, n_open), n_tied
