"""BLEU as the paper reports it and as sacreBLEU reports it, by subset and by sentence length.

Paper: Table 1 ("All" and "No UNK" BLEU on news-test-2014, computed with multi-bleu.perl on
Moses-tokenized text) and Figure 2 (BLEU against source sentence length). Every score comes from
sacrebleu; nothing here re-implements BLEU:
- tokenized BLEU = sacrebleu with `tokenize="none"` and no smoothing on Moses-tokenized text,
  which is what multi-bleu.perl computes;
- detokenized BLEU = sacreBLEU's standard 13a tokenizer on Moses-detokenized hypotheses against
  the raw references.
Not responsible for reading files (evaluate.py) or drawing figures (report.py, alignment.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

TOKENIZED = "none"  # multi-bleu style: the text is already Moses-tokenized
DETOKENIZED = "13a"  # sacreBLEU's default for WMT


@dataclass(frozen=True)
class BleuResult:
    """A corpus BLEU score with what is needed to reproduce it.

    Attributes:
        score: BLEU in [0, 100].
        signature: the sacreBLEU signature (tokenizer, smoothing, version, ...).
        precisions: the 1..4-gram precisions in percent.
        brevity_penalty: BP.
        sys_len: hypothesis length in tokens; ref_len: reference length.
        n_sentences: number of segments scored.
    """

    score: float
    signature: str
    precisions: tuple[float, ...]
    brevity_penalty: float
    sys_len: int
    ref_len: int
    n_sentences: int

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {**asdict(self), "precisions": list(self.precisions)}


@dataclass(frozen=True)
class BucketBleu:
    """BLEU of the sentences whose source length is in [lo, hi), with a bootstrap 95% CI."""

    bucket: str
    lo: int
    hi: int
    bleu: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class PairedBootstrap:
    """Paired bootstrap resampling test (Koehn 2004) of `system` against `baseline`."""

    baseline: str
    system: str
    baseline_bleu: float
    system_bleu: float
    p_value: float
    n_samples: int
    signature: str


def bleu_metric(tokenize: str = DETOKENIZED, lowercase: bool = False) -> BLEU:
    """The sacrebleu metric object: multi-bleu style (no smoothing) when `tokenize == "none"`."""
    if tokenize == TOKENIZED:
        # multi-bleu.perl does not smooth: a zero n-gram precision makes BLEU zero.
        return BLEU(tokenize=TOKENIZED, lowercase=lowercase, smooth_method="none", force=True)
    return BLEU(tokenize=tokenize, lowercase=lowercase)


def corpus_bleu(
    hyps: Sequence[str], refs: Sequence[str], tokenize: str = DETOKENIZED, lowercase: bool = False
) -> BleuResult:
    """Corpus BLEU of `hyps` against one reference per sentence.

    Args:
        hyps: one hypothesis string per sentence.
        refs: one reference string per sentence.
        tokenize: sacrebleu tokenizer: "none" (tokenized BLEU) or "13a" (detokenized BLEU).
        lowercase: case-insensitive BLEU (the paper is case-sensitive).

    Raises:
        ValueError: if the two lists differ in length or are empty.
    """
    _check_lengths(hyps, refs)
    metric = bleu_metric(tokenize, lowercase)
    res = metric.corpus_score(list(hyps), [list(refs)])
    return BleuResult(
        score=float(res.score), signature=str(metric.get_signature()),
        precisions=tuple(float(p) for p in res.precisions), brevity_penalty=float(res.bp),
        sys_len=int(res.sys_len), ref_len=int(res.ref_len), n_sentences=len(hyps),
    )


def _check_lengths(hyps: Sequence[str], refs: Sequence[str]) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    if not hyps:
        raise ValueError("cannot score an empty corpus")


def no_unk_indices(
    src_ids: Sequence[np.ndarray], ref_ids: Sequence[np.ndarray], unk_id: int
) -> list[int]:
    """Sentences with no [UNK] in the source or the reference after shortlisting (Table 1)."""
    return [
        i for i, (s, r) in enumerate(zip(src_ids, ref_ids, strict=True))
        if not (np.any(s == unk_id) or np.any(r == unk_id))
    ]


def subset(lines: Sequence[str], indices: Sequence[int]) -> list[str]:
    """The lines at `indices`, in order."""
    return [lines[i] for i in indices]


def adapt_length_edges(src_lengths: Sequence[int], edges: Sequence[int],
                       min_sentences: int) -> list[int]:
    """Figure 2's bucket edges adapted to a test set (ours): too small buckets are merged.

    Rule: while some bucket holds fewer than `min_sentences` test sentences and more than two
    buckets remain, the shortest such bucket is merged with its longer neighbour (its upper edge
    is removed); the open last bucket, which has none, merges with its shorter one. A corpus
    without long sentences thus ends in an open bucket at its longest populated edge (edges
    [10, ..., 60] on sources of at most 14 words give 0-9 and 10+) instead of empty or
    few-sentence buckets scored BLEU 0. Only source lengths count, so every model evaluated on
    the same test set gets the same buckets. `min_sentences` <= 0 keeps the edges as given.
    """
    lengths = np.asarray(src_lengths, dtype=np.int64)
    edges = [int(e) for e in edges]
    while len(edges) > 1:
        counts = np.bincount(np.searchsorted(edges, lengths, side="right"),
                             minlength=len(edges) + 1)
        small = np.flatnonzero(counts < min_sentences)
        if not len(small):
            break
        del edges[min(int(small[0]), len(edges) - 1)]
    return edges


def length_buckets(edges: Sequence[int]) -> list[tuple[str, int, int]]:
    """Figure 2's buckets [lo, hi) from their upper edges, plus an open one from the last edge.

    [10, 20] gives 0-9, 10-19 and 20+ (the embedded test set is stratified over the same
    buckets). The open bucket gets hi = last edge + last width, so a plot can place it.
    """
    lows = [0, *edges[:-1]]
    buckets = [(f"{lo}-{hi - 1}", lo, hi) for lo, hi in zip(lows, edges, strict=True)]
    width = edges[-1] - lows[-1]
    return [*buckets, (f"{edges[-1]}+", edges[-1], edges[-1] + width)]


def bootstrap_bleu(metric: BLEU, hyps: Sequence[str], refs: Sequence[str], n_samples: int,
                   seed: int) -> tuple[float, float, float]:
    """(BLEU, 95% CI low, high) by sacreBLEU's own bootstrap (`corpus_score(n_bootstrap=)`).

    The interval is sacreBLEU's "mu +- ci": the mean of the resampled scores plus or minus half
    the width of their 2.5-97.5 percentile range, read through the public `Score.format`. With
    n_samples < 2 (or all resamples scoring 0) the interval is the score itself.
    """
    if n_samples < 2:
        score = float(metric.corpus_score(list(hyps), [list(refs)]).score)
        return score, score, score
    with _sacrebleu_seed(seed):
        res = metric.corpus_score(list(hyps), [list(refs)], n_bootstrap=n_samples)
    fields = json.loads(res.format(width=4, signature=str(metric.get_signature()), is_json=True))
    if "confidence_mean" not in fields:  # sacreBLEU omits it when every resample scored 0
        return float(res.score), float(res.score), float(res.score)
    mean, half = fields["confidence_mean"], fields["confidence_var"]
    return float(res.score), mean - half, mean + half


def bleu_by_length(
    hyps: Sequence[str], refs: Sequence[str], src_lengths: Sequence[int], edges: Sequence[int],
    tokenize: str = TOKENIZED, n_samples: int = 1000, seed: int = 12345,
    min_sentences: int = 0,
) -> list[BucketBleu]:
    """BLEU per source-length bucket (Figure 2) with bootstrap 95% confidence intervals.

    Args:
        hyps, refs: one string per sentence.
        src_lengths: source sentence length in words.
        edges: upper bucket edges (`cfg.eval.length_buckets`); see `length_buckets`.
        tokenize: sacrebleu tokenizer ("none": the paper's tokenized BLEU).
        n_samples: bootstrap resamples per bucket (0: no interval, ci = score).
        seed: sacreBLEU's bootstrap seed (every bucket uses it).
        min_sentences: buckets with fewer sentences are merged (`adapt_length_edges`).

    Returns:
        One row per non-empty bucket, shortest first (an empty bucket gets no row, never 0).
    """
    _check_lengths(hyps, refs)
    lengths = np.asarray(src_lengths, dtype=np.int64)
    edges = adapt_length_edges(lengths, edges, min_sentences)
    index = np.searchsorted(edges, lengths, side="right")  # bucket k: [lo_k, hi_k); last open
    rows = []
    for k, (label, lo, hi) in enumerate(length_buckets(edges)):
        members = index == k
        if not members.any():
            continue
        idx = np.flatnonzero(members).tolist()
        score, low, high = bootstrap_bleu(bleu_metric(tokenize), subset(hyps, idx),
                                          subset(refs, idx), n_samples, seed)
        rows.append(BucketBleu(label, lo, hi, score, low, high, len(idx)))
    return rows


@contextmanager
def _sacrebleu_seed(seed: int) -> Iterator[None]:
    """sacrebleu's significance tests read their seed from $SACREBLEU_SEED only."""
    old = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        yield
    finally:
        if old is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = old


def paired_bootstrap(
    baseline: tuple[str, Sequence[str]], system: tuple[str, Sequence[str]],
    refs: Sequence[str], tokenize: str = TOKENIZED, n_samples: int = 1000, seed: int = 12345,
) -> PairedBootstrap:
    """sacrebleu's paired bootstrap test (`--paired-bs`): is `system` better than chance?

    Args:
        baseline, system: (name, hypotheses) pairs over the same sentences.
        refs: one reference per sentence.
        tokenize: sacrebleu tokenizer.
        n_samples: bootstrap resamples.
        seed: sacrebleu's RNG seed.
    """
    _check_lengths(baseline[1], refs)
    _check_lengths(system[1], refs)
    metric = bleu_metric(tokenize)
    with _sacrebleu_seed(seed):
        test = PairedTest(
            [(baseline[0], list(baseline[1])), (system[0], list(system[1]))],
            {"BLEU": metric}, [list(refs)], test_type="bs", n_samples=n_samples,
        )
        signatures, scores = test()
    base_res, sys_res = scores["BLEU"]
    return PairedBootstrap(
        baseline=baseline[0], system=system[0], baseline_bleu=float(base_res.score),
        system_bleu=float(sys_res.score), p_value=float(sys_res.p_value), n_samples=n_samples,
        signature=str(signatures["BLEU"]),
    )


def table1_bleu(
    text: Mapping[str, Sequence[str]], keep: Sequence[int], tokenized: bool = True,
    detok: bool = True,
) -> tuple[dict[str, dict[str, float | None]], dict[str, str]]:
    """Table 1's BLEU: on all sentences and on the no-UNK subset `keep`, in both flavours.

    Args:
        text: `hyp_tok`, `ref_tok` (Moses-tokenized) and `hyp_detok`, `ref_raw` line lists.
        keep: indices of the sentences without [UNK] (`no_unk_indices`).
        tokenized, detok: which flavours to compute (cfg.eval.tokenized_bleu / detok_bleu).

    Returns:
        ({"bleu" | "bleu_detok": {"all": score, "no_unk": score or None}}, signatures)
    """
    bleu, signatures = {}, {}
    flavours = [("bleu", TOKENIZED, "hyp_tok", "ref_tok", tokenized),
                ("bleu_detok", DETOKENIZED, "hyp_detok", "ref_raw", detok)]
    for key, tokenize, hyp, ref, wanted in flavours:
        if not wanted:
            continue
        all_ = corpus_bleu(text[hyp], text[ref], tokenize)
        no_unk = (corpus_bleu(subset(text[hyp], keep), subset(text[ref], keep), tokenize).score
                  if keep else None)  # None: every test sentence has an [UNK]
        bleu[key] = {"all": round(all_.score, 2),
                     "no_unk": None if no_unk is None else round(no_unk, 2)}
        signatures[key] = all_.signature
    return bleu, signatures
