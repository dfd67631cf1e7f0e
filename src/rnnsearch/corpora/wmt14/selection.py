"""Bilingual cross-entropy-difference data selection (Axelrod et al., 2011; "modified Moore-Lewis").

Paper: Sec. 4.1 -- the 850M-word WMT'14 En-Fr corpora were reduced to 348M words "using the
data selection method by Axelrod et al. (2011)"; the 348M are French tokens after tokenization
(the selected corpus of Cho et al. (2014a): 348M French, 304M English words, Sutskever et al.
2014, Sec. 3.1). `data=wmt14_lium` reads that corpus; this module re-runs a small version of
the method for `data=wmt14_en_fr`:

    score(e, f) = [H_in(e) - H_gen(e)] + [H_in(f) - H_gen(f)]

where H is the per-token cross-entropy (bits, BOS/EOS included) under a bigram language model
with add-one (Laplace) smoothing, `in` is trained on in-domain news text (the newstest dev sets)
and `gen` on (a strided sample of) the general pool. Both LMs share the in-domain vocabulary;
other words map to <unk>, as in Axelrod et al. Text is lower-cased and split into words and
punctuation by a regex (not Moses: scoring only needs a consistent segmentation). Pairs are
taken in order of increasing score until the French side, Moses-tokenized as `prepare` does,
reaches the token budget.
A bigram LM is far weaker than the 4-gram LMs of the original; this is a documented
approximation, not the LIUM selection.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rnnsearch.data.moses import clean_line, tokenize_lines
from rnnsearch.data.parallel_files import DataError, iter_parallel
from rnnsearch.io_utils import atomic_gzip

_WORD = re.compile(r"\w+|[^\w\s]")
UNK, BOS, EOS = 0, 1, 2


def words(line: str) -> list[str]:
    """Lower-cased words and punctuation marks of a line."""
    return _WORD.findall(line.lower())


class BigramLM:
    """Add-one smoothed bigram LM over a fixed vocabulary (ids: 0 <unk>, 1 <s>, 2 </s>).

    Args:
        vocab: word -> id (ids from 3), usually the in-domain word list.
    """

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self.size = len(vocab) + 3
        self.keys = np.zeros(0, dtype=np.int64)  # sorted prev * size + cur
        self.counts = np.zeros(0, dtype=np.int64)
        self.context = np.zeros(self.size, dtype=np.int64)  # c(prev)

    @classmethod
    def vocabulary(cls, lines: Iterable[str]) -> dict[str, int]:
        """Word -> id for every word of `lines` (sorted, so ids are reproducible)."""
        types = sorted(Counter(w for line in lines for w in words(line)))
        return {w: i + 3 for i, w in enumerate(types)}

    def _bigram_keys(self, lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
        get = self.vocab.get
        seqs = [[BOS, *(get(w, UNK) for w in words(line)), EOS] for line in lines]
        n_pred = np.fromiter((len(s) - 1 for s in seqs), dtype=np.int64, count=len(seqs))
        flat = np.fromiter((i for s in seqs for i in s), dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(n_pred + 1)[:-1]]).astype(np.int64)
        cur_mask = np.ones(len(flat), dtype=bool)
        cur_mask[starts] = False  # the first token (<s>) is never predicted
        prev = flat[np.flatnonzero(cur_mask) - 1]
        return prev * self.size + flat[cur_mask], n_pred

    def fit(self, lines: Iterable[str], chunk: int = 100_000) -> BigramLM:
        """Add the bigram counts of `lines` (streamed in chunks)."""
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == chunk:
                self._add(batch)
                batch = []
        if batch:
            self._add(batch)
        return self

    def _add(self, lines: list[str]) -> None:
        keys, _ = self._bigram_keys(lines)
        merged = np.concatenate([self.keys, keys])
        weights = np.concatenate([self.counts, np.ones(len(keys), dtype=np.int64)])
        self.keys, inverse = np.unique(merged, return_inverse=True)
        self.counts = np.bincount(inverse, weights=weights).astype(np.int64)
        self.context += np.bincount(keys // self.size, minlength=self.size)

    def cross_entropy(self, lines: list[str]) -> np.ndarray:
        """Per-line cross-entropy in bits per predicted token (float64, shape (n,))."""
        if not lines:
            return np.zeros(0, dtype=np.float64)
        keys, n_pred = self._bigram_keys(lines)
        counts = np.zeros(len(keys), dtype=np.int64)
        if len(self.keys):
            pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            hit = self.keys[pos] == keys
            counts[hit] = self.counts[pos[hit]]
        logp = np.log2((counts + 1) / (self.context[keys // self.size] + self.size))
        sums = np.add.reduceat(logp, np.concatenate([[0], np.cumsum(n_pred)[:-1]]))
        return -sums / n_pred


def select_by_budget(scores: np.ndarray, n_tokens: np.ndarray, budget: int) -> np.ndarray:
    """Boolean mask of the lowest-score pairs whose token counts sum to at most `budget`.

    Ties are broken by position (stable sort), so the result is deterministic; a pair scored
    +inf (an empty side) is never kept.
    """
    order = np.argsort(scores, kind="stable")
    within = (np.cumsum(n_tokens[order]) <= budget) & np.isfinite(scores[order])
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[within]] = True
    return mask


def _chunks(pairs: Iterable[tuple[str, str]], size: int) -> Iterable[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def french_tokens(lines: list[str], workers: int = 1) -> np.ndarray:
    """Moses token count of each French line (int64, shape (n,)), tokenized as `prepare` does."""
    tokens = tokenize_lines([clean_line(line) for line in lines], "fr", workers)
    return np.array([len(t) for t in tokens], dtype=np.int64)


def score_pool(pool: Callable[[], Iterable[tuple[str, str]]], in_domain: list[tuple[str, str]],
               max_general_pairs: int, chunk: int = 100_000, workers: int = 1
               ) -> tuple[np.ndarray, np.ndarray]:
    """Cross-entropy-difference scores and French token counts of every pool pair.

    Args:
        pool: a callable returning a fresh iterator over (en, fr) pairs (it is read 3 times).
        in_domain: (en, fr) in-domain pairs for the in-domain LMs.
        max_general_pairs: the general LMs see every k-th pool pair, k = ceil(n / this).
        chunk: pairs scored per numpy batch.
        workers: Moses tokenisation processes for the French counts.

    Returns:
        (scores, n_tokens_fr), float64 and int64 of shape (n,); a pair with an empty side
        scores +inf.
    """
    n_total = sum(1 for _ in pool())
    stride = max(1, -(-n_total // max(1, max_general_pairs)))
    lms = []
    for side in (0, 1):
        text = [pair[side] for pair in in_domain]
        vocab = BigramLM.vocabulary(text)
        general = (pair[side] for k, pair in enumerate(pool()) if k % stride == 0)
        lms.append((BigramLM(vocab).fit(text), BigramLM(vocab).fit(general)))
    scores, n_tokens = [], []
    for batch in _chunks(pool(), chunk):
        score = np.zeros(len(batch))
        for side, (lm_in, lm_gen) in enumerate(lms):
            text = [pair[side] for pair in batch]
            score += lm_in.cross_entropy(text) - lm_gen.cross_entropy(text)
        empty = np.array([not e.strip() or not f.strip() for e, f in batch])
        scores.append(np.where(empty, np.inf, score))
        n_tokens.append(french_tokens([fr for _, fr in batch], workers))
    if not scores:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.concatenate(scores), np.concatenate(n_tokens)


def write_selected(pairs: Iterable[tuple[str, str]], keep: np.ndarray, en_path: Path,
                   fr_path: Path) -> None:
    """Write the pairs whose `keep` flag is set to two gzipped line-aligned files, atomically
    (byte-identical on a rerun: `atomic_gzip`)."""
    with atomic_gzip(en_path) as en_out, atomic_gzip(fr_path) as fr_out:
        for k, (en, fr) in enumerate(pairs):
            if keep[k]:
                en_out.write(f"{en}\n".encode())
                fr_out.write(f"{fr}\n".encode())


def select_pairs(pool_files: list[tuple[Path, Path]], in_domain_files: tuple[Path, Path],
                 budget: int, max_general_pairs: int, out_files: tuple[Path, Path],
                 workers: int = 1) -> dict[str, Any]:
    """Score the pool against in-domain text, keep `budget` French tokens, write them gzipped.

    Args:
        pool_files: (en, fr) line-aligned files of the general corpora (plain or .gz).
        in_domain_files: (en, fr) in-domain text (the news dev sets) for the in-domain LMs.
        budget: French tokens (after Moses tokenization) to select (Sec. 4.1: 348M).
        max_general_pairs: pool pairs sampled for the general LMs.
        out_files: (en, fr) `.gz` outputs.
        workers: Moses tokenisation processes for the French counts.

    Returns:
        Pool and selection sizes.
    """
    def pool() -> Iterator[tuple[str, str]]:
        for en_path, fr_path in pool_files:
            yield from iter_parallel(en_path, fr_path)

    in_domain = list(iter_parallel(*in_domain_files))
    scores, n_tokens = score_pool(pool, in_domain, max_general_pairs, workers=workers)
    if not len(scores):
        raise DataError(f"{pool_files[0][0] if pool_files else in_domain_files[0]}: "
                        "empty training pool")
    keep = select_by_budget(scores, n_tokens, budget)
    write_selected(pool(), keep, *out_files)
    return {"pool_pairs": int(len(scores)), "pool_tokens_fr": int(n_tokens.sum()),
            "selected_pairs": int(keep.sum()), "selected_tokens_fr": int(n_tokens[keep].sum()),
            "budget_tokens_fr": int(budget),
            "max_selected_score": float(np.max(scores[keep])) if keep.any() else None}
