"""The beam search as it was before the bookkeeping rewrite, kept verbatim as the reference of
test_search_bookkeeping.py: its loop, `_Beams` (one-by-one retiring) and the single top-k over
beam x vocabulary. The helpers it shares with today's module (`_forbid`, `_as_caps`, `_crop`,
`_finalize`) did not change.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rnnsearch.data.vocab import BOS_ID, EOS_ID
from rnnsearch.decoding import beam_select
from rnnsearch.decoding.search import (
    Hypothesis,
    SearchResult,
    _as_caps,
    _crop,
    _finalize,
    _forbid,
)


# --- reference: the search before the bookkeeping rewrite (kept verbatim) ------------------
class _Beams:
    def __init__(self, B: int, K: int, S: int, device: torch.device) -> None:
        self.B, self.K = B, K
        self.scores = torch.full((B, K), -float("inf"), dtype=torch.float64, device=device)
        self.scores[:, 0] = 0.0
        self.tokens = torch.full((B * K, 1), BOS_ID, dtype=torch.long, device=device)
        self.attn = torch.zeros((B * K, 0, S), device=device)

    def extend(self, rows, token, score, alpha) -> None:
        self.tokens = torch.cat([self.tokens[rows], token[:, None]], dim=1)
        if alpha is not None:
            self.attn = torch.cat([self.attn[rows], alpha[rows][:, None]], dim=1)
        self.scores = score

    def retire(self, done, ended, n_src, finished, with_attn) -> None:
        for b, k in done.nonzero().tolist():
            row = b * self.K + k
            ids = self.tokens[row, 1:].tolist()
            hyp_ids = ids[:-1] if ended else ids
            attn = _crop(self.attn[row], n_src[b]) if with_attn else None
            finished[b].append(Hypothesis(hyp_ids, float(self.scores[b, k]), ended, attn))
        self.scores = self.scores.masked_fill(done, -float("inf"))

    def close_decided(self, finished) -> None:
        best_done = torch.tensor([max((h.score for h in f), default=-math.inf)
                                  for f in finished], device=self.scores.device)
        decided = best_done[:, None] >= self.scores.max(dim=1, keepdim=True).values
        self.scores = self.scores.masked_fill(decided, -math.inf)


def _reference_select_topk(scores, log_probs, n_open):
    B, K = scores.shape
    V = log_probs.size(-1)
    cand = (scores[:, :, None] + log_probs.view(B, K, V).double()).view(B, K * V)
    top, flat = cand.topk(K, dim=-1)
    rank = torch.arange(K, device=top.device)[None, :]
    top = top.masked_fill(rank >= n_open[:, None], -float("inf"))
    return flat // V, flat % V, top


@torch.no_grad()
def reference_beam_search(model, src_ids, src_mask, beam_size, max_len, length_normalize=False,
                          min_len=0, ignore_unk=False, stop_when_decided=True) -> SearchResult:
    B, S = src_ids.shape
    K, device = beam_size, src_ids.device
    caps = _as_caps(max_len, B, device)
    mins = _as_caps(min_len, B, device).repeat_interleave(K)
    longest_min = int(mins.max())
    n_src = src_mask.sum(dim=1).tolist()
    expand = torch.arange(B, device=device).repeat_interleave(K)
    enc = model.encode(src_ids, src_mask).index_select(expand)
    state = model.init_state(enc)
    beams, finished = _Beams(B, K, S, device), [[] for _ in range(B)]
    n_open = torch.full((B,), K, dtype=torch.long, device=device)
    for t in range(1, int(caps.max()) + 1):
        out = model.step(beams.tokens[:, -1], state, enc)
        beam_select.check_finite(out.log_probs, t)
        log_probs = _forbid(out.log_probs, t, mins, longest_min, ignore_unk)
        slot, token, score = _reference_select_topk(beams.scores, log_probs, n_open)
        rows = (torch.arange(B, device=device)[:, None] * K + slot).view(-1)
        state = out.state.index_select(rows)
        beams.extend(rows, token.view(-1), score, out.alpha)
        live = torch.isfinite(score)
        eos = live & (token == EOS_ID)
        beams.retire(eos, True, n_src, finished, out.alpha is not None)
        n_open -= eos.sum(dim=1)
        capped = live & ~eos & (caps[:, None] <= t)
        beams.retire(capped, False, n_src, finished, out.alpha is not None)
        if stop_when_decided and not length_normalize:
            beams.close_decided(finished)
        if not torch.isfinite(beams.scores).any():
            break
    return _finalize(finished, length_normalize)
# --- end of the reference ------------------------------------------------------------------


def assert_identical(got: SearchResult, want: SearchResult) -> None:
    """Every field equal: ids, scores, ended flags, the n-best lists in order, attention arrays
    (values and dtype)."""
    assert got.ids == want.ids and got.scores == want.scores and got.ended == want.ended
    assert len(got.n_best) == len(want.n_best)
    for g_hyps, w_hyps in zip(got.n_best, want.n_best, strict=True):
        assert [(h.ids, h.score, h.ended) for h in g_hyps] == [
            (h.ids, h.score, h.ended) for h in w_hyps]
        for g, w in zip(g_hyps, w_hyps, strict=True):
            if w.attention is None:
                assert g.attention is None
            else:
                assert g.attention.dtype == w.attention.dtype
                assert np.array_equal(g.attention, w.attention)
