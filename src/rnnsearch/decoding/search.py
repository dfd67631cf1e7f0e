"""Greedy and beam search over the Seq2Seq protocol: encode / init_state / step.

Paper: Sec. 3 and App. A ("we use a beam search to find a translation that approximately
maximizes the conditional probability", Sec. 5 / Sutskever et al. 2014). The beam follows
GroundHog's sampler: a sentence holds K hypotheses; each one that emits EOS leaves the beam with
its score, the beam shrinks by one, and search stops when the beam is empty or the length cap is
reached; the best of the K finished hypotheses is returned.

Search restrictions, also GroundHog's (sample.py `BeamSearch.search`):
- length rule `groundhog` (`length_limits`): at most 3 (|x| + 1) steps, |x| + 1 counting the
  source EOS, and EOS forbidden until (|x| + 1) // 2 words are out ("TODO: report me in the
  paper!!!"); rule `ratio` (ours): at most ratio * |x| + offset steps, EOS at any step;
- `ignore_unk` (--ignore-unk): log p([UNK]) = -inf, used for Table 1's No-UNK column.

Not responsible for batching a corpus, reading checkpoints or writing files (see translate.py).
Only the model *protocol* is used: no decoder classes, no Lightning, no private attributes; the
special-token ids come from `rnnsearch.data.vocab`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from rnnsearch.data.vocab import BOS_ID, EOS_ID, UNK_ID
from rnnsearch.decoding import beam_select
from rnnsearch.models.decoder_step import DecoderState, StepOutput
from rnnsearch.models.encoder_output import EncoderOutput


class TranslationModel(Protocol):
    """What search needs from a model (Seq2Seq satisfies it)."""

    def encode(self, src_ids: torch.Tensor, src_mask: torch.Tensor) -> EncoderOutput: ...  # noqa: D102
    def init_state(self, enc: EncoderOutput) -> DecoderState: ...  # noqa: D102
    def step(  # noqa: D102
        self, y_prev: torch.Tensor, state: DecoderState, enc: EncoderOutput
    ) -> StepOutput: ...


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis that left the beam (EOS or length cap); fields as in `SearchResult`."""

    ids: list[int]
    score: float
    ended: bool
    attention: np.ndarray | None


@dataclass(frozen=True)
class SearchResult:
    """The best hypothesis for each sentence of a batch.

    Attributes:
        ids: target ids per sentence, without BOS and EOS.
        scores: sum of log p(y_i | y_<i, x) over the emitted tokens (EOS included when emitted).
        ended: True when the hypothesis emitted EOS, False when it was cut at the length cap.
        attention: alpha per sentence, (T_hyp, S_real) with one row per emitted token (the EOS
            row included when emitted) and one column per real source token; None for RNNencdec.
        n_best: every finished hypothesis per sentence, best first (the first is the one above).
    """

    ids: list[list[int]]
    scores: list[float]
    ended: list[bool]
    attention: list[np.ndarray | None]
    n_best: list[list[Hypothesis]] = field(default_factory=list)


def length_caps(src_lengths: torch.Tensor, ratio: float, offset: int) -> torch.Tensor:
    """Per-sentence cap on emitted tokens: floor(ratio * |x| + offset), |x| in source words.

    Shapes: src_lengths (B,) -> (B,) long
    """
    return (src_lengths.double() * ratio + offset).floor().long().clamp(min=1)


def length_limits(
    src_lengths: torch.Tensor, rule: str, ratio: float = 2.0, offset: int = 10
) -> tuple[torch.Tensor, torch.Tensor]:
    """(max_len, min_len) per sentence: steps allowed (EOS included), words before EOS may come.

    `groundhog` (GroundHog sample.py, where the source sequence includes its EOS): at most
    3 (|x| + 1) steps and EOS forbidden at the first (|x| + 1) // 2 steps. `ratio` (ours):
    `length_caps` and no minimum. |x| counts source words, without EOS. `rule` is
    `decode.length_rule`, whose values the config checks when it is composed.

    Shapes: src_lengths (B,) -> (B,) long, (B,) long
    """
    if rule == "ratio":
        return length_caps(src_lengths, ratio, offset), torch.zeros_like(src_lengths).long()
    n = src_lengths.long() + 1  # (B,) source length counting its EOS
    return 3 * n, n // 2


def _as_caps(max_len: int | torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    if isinstance(max_len, torch.Tensor):
        return max_len.to(device=device, dtype=torch.long)
    return torch.full((batch,), int(max_len), dtype=torch.long, device=device)


def _forbid(
    log_probs: torch.Tensor, t: int, min_len: torch.Tensor, longest_min: int, ignore_unk: bool
) -> torch.Tensor:
    """log p with [UNK] (ignore_unk) and, for rows still under their minimum, EOS set to -inf.

    Step t (1-based) may emit EOS only when t > min_len. Returns the input itself when nothing
    is forbidden (no copy); otherwise a copy, so the model's tensor is never modified.

    Shapes: log_probs (N, V); min_len (N,) -> (N, V)
    """
    if not ignore_unk and t > longest_min:
        return log_probs
    log_probs = log_probs.clone()
    if ignore_unk:
        log_probs[:, UNK_ID] = -float("inf")
    if t <= longest_min:
        log_probs[:, EOS_ID].masked_fill_(min_len >= t, -float("inf"))  # view: edits the copy
    return log_probs


def _crop(alpha_rows: torch.Tensor | None, n_src: int) -> np.ndarray | None:
    """(T, S) attention rows of one hypothesis, real source columns only, as numpy."""
    return None if alpha_rows is None else alpha_rows[:, :n_src].float().cpu().numpy()


@torch.no_grad()
def greedy_search(
    model: TranslationModel, src_ids: torch.Tensor, src_mask: torch.Tensor,
    max_len: int | torch.Tensor, min_len: int | torch.Tensor = 0, ignore_unk: bool = False,
) -> SearchResult:
    """Pick the most probable word at every step (the beam of one).

    Args:
        model: anything with the Seq2Seq protocol.
        src_ids: source ids (with whatever EOS convention training used).
        src_mask: True for real source tokens.
        max_len: cap on emitted tokens, one int or one per sentence (see `length_limits`).
        min_len: words that must come before EOS, one int or one per sentence.
        ignore_unk: never emit [UNK] (log p([UNK]) = -inf).

    Returns:
        The hypothesis per sentence (see `SearchResult`).

    Shapes: src_ids (B, S); src_mask (B, S) bool; max_len, min_len (B,) when tensors.
    """
    B, device = src_ids.size(0), src_ids.device
    caps = _as_caps(max_len, B, device)  # (B,)
    mins = _as_caps(min_len, B, device)  # (B,)
    longest_min = int(mins.max())
    enc = model.encode(src_ids, src_mask)
    state = model.init_state(enc)
    y = torch.full((B,), BOS_ID, dtype=torch.long, device=device)  # (B,)
    scores = torch.zeros(B, dtype=torch.float64, device=device)  # (B,)
    alive = torch.ones(B, dtype=torch.bool, device=device)  # (B,)
    ended = torch.zeros(B, dtype=torch.bool, device=device)  # (B,)
    length = torch.zeros(B, dtype=torch.long, device=device)  # (B,) emitted tokens, EOS included
    tokens, alphas = [], []
    for t in range(1, int(caps.max()) + 1):
        out = model.step(y, state, enc)
        logp, y = _forbid(out.log_probs, t, mins, longest_min, ignore_unk).max(dim=-1)  # (B,)
        scores += torch.where(alive, logp.double(), torch.zeros_like(scores))
        length += alive.long()
        ended |= alive & (y == EOS_ID)
        alive &= (y != EOS_ID) & (caps > t)
        tokens.append(y)
        alphas.append(out.alpha)
        state = out.state
        if not alive.any():
            break
    attn = None if alphas[0] is None else torch.stack(alphas, dim=1)  # (B, T, S)
    return _greedy_result(torch.stack(tokens, dim=1), scores, length, ended, attn, src_mask)


def _greedy_result(
    tokens: torch.Tensor, scores: torch.Tensor, length: torch.Tensor, ended: torch.Tensor,
    attn: torch.Tensor | None, src_mask: torch.Tensor,
) -> SearchResult:
    """Cut each row at its length. Shapes: tokens (B, T); scores, length, ended (B,)."""
    n_src, lengths, ends = src_mask.sum(dim=1).tolist(), length.tolist(), ended.tolist()
    ids = [row[: n - int(e)] for row, n, e in zip(tokens.tolist(), lengths, ends, strict=True)]
    attention = [
        None if attn is None else _crop(attn[b, : lengths[b]], n_src[b]) for b in range(len(ids))
    ]
    score_list = scores.tolist()
    n_best = [[Hypothesis(*h)] for h in zip(ids, score_list, ends, attention, strict=True)]
    return SearchResult(ids, score_list, ends, attention, n_best)


class _History:
    """Where every beam row came from, preallocated for `steps` steps: back-pointers, not copies.

    Step t (1-based) writes one (B*K,) row of tokens and parent rows, the model's alpha rows and
    the (B, K) scores with masks of the slots that ended (EOS) or hit the cap there. Nothing is
    re-gathered while searching; a hypothesis is read back once, by following its parents from
    the step it left the beam (`hypotheses`).
    """

    def __init__(self, steps: int, B: int, K: int, device: torch.device) -> None:
        self.B, self.K = B, K
        self.token = torch.empty((steps, B * K), dtype=torch.long, device=device)  # (T, BK)
        self.parent = torch.empty((steps, B * K), dtype=torch.long, device=device)  # (T, BK)
        self.score = torch.empty((steps, B, K), dtype=torch.float64, device=device)  # (T, B, K)
        self.left = torch.zeros((steps, 2, B, K), dtype=torch.bool, device=device)  # EOS, cap
        self.alpha: torch.Tensor | None = None  # (T, BK, S), allocated at the first step

    def record(
        self, t: int, rows: torch.Tensor, token: torch.Tensor, alpha: torch.Tensor | None,
        score: torch.Tensor, eos: torch.Tensor, capped: torch.Tensor,
    ) -> None:
        """Step t: rows (B*K,) continued with token (B*K,); alpha (B*K, S) of the old rows."""
        i = t - 1
        self.token[i], self.parent[i], self.score[i] = token, rows, score
        self.left[i, 0], self.left[i, 1] = eos, capped
        if alpha is not None:
            if self.alpha is None:  # as torch.cat onto a float32 buffer would promote it
                dtype = torch.promote_types(torch.float32, alpha.dtype)
                self.alpha = alpha.new_empty((self.token.size(0), *alpha.shape), dtype=dtype)
            self.alpha[i] = alpha

    def hypotheses(self, steps: int, n_src: list[int]) -> list[list[Hypothesis]]:
        """Every hypothesis that left the beam in the first `steps` steps, per sentence.

        Order per sentence: by step; within a step the EOS ones, then the capped ones, each by
        slot (the order in which the beam retired them one by one).
        """
        K = self.K
        events = self.left[:steps].nonzero()  # (N, 4): step - 1, capped, b, k; in that order
        score = self.score[events[:, 0], events[:, 2], events[:, 3]].tolist()  # (N,)
        step, capped, b, k = events.cpu().numpy().T  # (N,) each
        token = self.token[:steps].cpu().numpy()  # (T, BK)
        parent = self.parent[:steps].cpu().numpy()  # (T, BK)
        row = b * K + k  # (N,) the row each one left from
        ids = np.empty((len(events), steps), dtype=np.int64)  # (N, T)
        fed = np.empty((len(events), steps), dtype=np.int64)  # (N, T) row fed to step s + 1
        for s in range(steps - 1, -1, -1):  # follow the parents back to step 1
            ids[:, s], fed[:, s] = token[s, row], parent[s, row]
            row = np.where(step >= s, parent[s, row], row)
        attn = None
        if self.alpha is not None and len(events):
            at = torch.as_tensor(fed, device=self.alpha.device)  # (N, T)
            t_idx = torch.arange(steps, device=self.alpha.device)[None, :]  # (1, T)
            attn = self.alpha[:steps][t_idx, at].float().cpu().numpy()  # (N, T, S)
        finished: list[list[Hypothesis]] = [[] for _ in range(self.B)]
        for n, (s, cap, sent) in enumerate(zip(step.tolist(), capped.tolist(), b.tolist(),
                                               strict=True)):
            ended = not cap
            length = s + 1  # tokens emitted, EOS included
            hyp_ids = ids[n, : length - int(ended)].tolist()  # without EOS
            rows = None if attn is None else attn[n, :length, : n_src[sent]]  # (T_hyp, S_real)
            finished[sent].append(Hypothesis(hyp_ids, score[n], ended, rows))
        return finished


@torch.no_grad()
def beam_search(
    model: TranslationModel, src_ids: torch.Tensor, src_mask: torch.Tensor, beam_size: int,
    max_len: int | torch.Tensor, length_normalize: bool = False,
    min_len: int | torch.Tensor = 0, ignore_unk: bool = False, stop_when_decided: bool = True,
) -> SearchResult:
    """Approximately maximise log p(y | x) with a beam of `beam_size` (K) per sentence.

    As in GroundHog, a sentence's beam shrinks by one for each hypothesis that ends, and search
    runs until all have ended or reached the cap `max_len` (open hypotheses finish there without
    EOS). `min_len` words must come before EOS; `ignore_unk` sets log p([UNK]) = -inf (GroundHog
    --ignore-unk); `length_normalize` ranks by score / length (the paper: by log p alone).
    Without it a score can only fall as a hypothesis grows, so once a sentence's best finished
    score is at least its best open score no open one can win: `stop_when_decided` closes that
    beam there (the best hypothesis is the same; only the hopeless tail is not searched).

    A slot whose score is -inf is empty (its hypothesis finished, or the beam never filled it).
    The beam keeps back-pointers (`_History`); finished hypotheses are read back after the loop.

    Returns the best hypothesis per sentence and every finished one, ranked (`SearchResult`).
    Raises FloatingPointError (one line) when the model's log-probabilities contain NaN.

    Shapes: src_ids (B, S); src_mask (B, S) bool; max_len, min_len (B,) when tensors.
    """
    B, K, device = src_ids.size(0), beam_size, src_ids.device
    caps = _as_caps(max_len, B, device)  # (B,)
    mins = _as_caps(min_len, B, device).repeat_interleave(K)  # (B*K,): row -> its sentence's
    longest_min, steps = int(mins.max()), int(caps.max())
    n_src = src_mask.sum(dim=1).tolist()
    expand = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,): row -> sentence
    enc = model.encode(src_ids, src_mask).index_select(expand)  # B*K rows
    state = model.init_state(enc)
    history = _History(steps, B, K, device)
    y = torch.full((B * K,), BOS_ID, dtype=torch.long, device=device)  # (B*K,)
    scores = torch.full((B, K), -math.inf, dtype=torch.float64, device=device)  # (B, K)
    scores[:, 0] = 0.0  # one live hypothesis, [BOS], per sentence at the start
    best_done = torch.full((B,), -math.inf, dtype=torch.float64, device=device)  # (B,)
    n_open = torch.full((B,), K, dtype=torch.long, device=device)  # (B,)
    first_row = torch.arange(B, device=device)[:, None] * K  # (B, 1)
    decide = stop_when_decided and not length_normalize
    t, single_topk = 0, False
    for t in range(1, steps + 1):
        out = model.step(y, state, enc)
        log_probs = _forbid(out.log_probs, t, mins, longest_min, ignore_unk)  # (B*K, V)
        if single_topk and t % beam_select.PROBE_EVERY:
            slot, token, score = beam_select.select_topk_checked(
                scores, log_probs, n_open, out.log_probs, t)  # (B, K) each
        else:
            slot, token, score, n_tied = beam_select.select_topk_two_stage(
                scores, log_probs, n_open, out.log_probs, t)  # (B, K) each
            single_topk = 2 * n_tied > B  # mostly ties: the two stages would be wasted
        rows = (first_row + slot).view(-1)  # (B*K,)
        state = out.state.index_select(rows)
        y = token.view(-1)  # (B*K,)
        live = torch.isfinite(score)  # (B, K)
        eos = live & (token == EOS_ID)
        n_open -= eos.sum(dim=1)
        capped = live & ~eos & (caps[:, None] <= t)
        history.record(t, rows, y, out.alpha, score, eos, capped)
        done = eos | capped  # (B, K) these leave the beam
        scores = score.masked_fill(done, -math.inf)
        if decide:
            best_done = torch.maximum(best_done, score.masked_fill(~done, -math.inf).amax(dim=1))
            scores = beam_select.close_decided(scores, best_done)
        if not torch.isfinite(scores).any():
            break
    return _finalize(history.hypotheses(t, n_src), length_normalize)


def _finalize(finished: list[list[Hypothesis]], length_normalize: bool) -> SearchResult:
    """The finished hypotheses per sentence, best first (a stable sort: ties keep their order)."""

    def rank(h: Hypothesis) -> float:
        return h.score / max(1, len(h.ids) + int(h.ended)) if length_normalize else h.score

    ranked = [sorted(hyps, key=rank, reverse=True) for hyps in finished]
    best = [hyps[0] for hyps in ranked]
    return SearchResult(
        ids=[h.ids for h in best], scores=[h.score for h in best],
        ended=[h.ended for h in best], attention=[h.attention for h in best], n_best=ranked,
    )
