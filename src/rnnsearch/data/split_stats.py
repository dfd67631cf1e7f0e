"""What `stats.json` says about a prepared split, and whether the corpus is the paper's.

Paper: Sec. 4.1 (30k shortlists, the rest [UNK]; 348M words of training text, 3,003 test
sentences). Per side of a split: sentences, tokens, word types, [UNK] counts and a length
histogram, accumulated chunk by chunk (`SideStats`), so the training split is never held whole.
`paper_count_warning` compares the raw counts with `data.paper_counts`.
Not responsible for reading text or writing the arrays (`train_encoding.py`, `prepare_stage.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnsearch.data.vocab import UNK_ID

HIST_WIDTH, HIST_BINS = 10, 10  # length histogram: 0-9, 10-19, ..., 90+


def unk_per_sentence(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(n,) number of [UNK] ids in each sentence of a flat chunk (`lengths` (n,) sums to it)."""
    unk = np.concatenate([[0], np.cumsum(ids == UNK_ID)])  # (tokens + 1,)
    ends = np.cumsum(lengths)
    return unk[ends] - unk[ends - lengths]


@dataclass
class SideStats:
    """One side of a split, accumulated over chunks of whole sentences."""

    sentences: int = 0
    tokens: int = 0
    unk_tokens: int = 0
    sentences_with_unk: int = 0
    types: int = 0  # distinct words (before the shortlist): set by the caller, who counted them
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(HIST_BINS, dtype=np.int64))

    def add(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Count a chunk: `ids` the chunk's sentences concatenated, `lengths` (n,) theirs.

        Returns:
            (n,) bool, True for the sentences that hold an [UNK].
        """
        has_unk = unk_per_sentence(ids, lengths) > 0
        self.sentences += len(lengths)
        self.tokens += int(lengths.sum())
        self.unk_tokens += int(np.count_nonzero(ids == UNK_ID))
        self.sentences_with_unk += int(has_unk.sum())
        self.histogram += np.bincount(np.minimum(lengths // HIST_WIDTH, HIST_BINS - 1),
                                      minlength=HIST_BINS)
        return has_unk

    def as_dict(self) -> dict[str, Any]:
        """The stats.json entry of this side."""
        labels = [f"{b * HIST_WIDTH}-{(b + 1) * HIST_WIDTH - 1}" for b in range(HIST_BINS - 1)]
        labels.append(f"{(HIST_BINS - 1) * HIST_WIDTH}+")
        return {
            "sentences": self.sentences,
            "tokens": self.tokens,
            "types": self.types,
            "unk_tokens": self.unk_tokens,
            "unk_rate": round(self.unk_tokens / self.tokens, 6) if self.tokens else 0.0,
            "sentences_with_unk": self.sentences_with_unk,
            "length_histogram": {label: int(n) for label, n in zip(labels, self.histogram,
                                                                   strict=True)},
        }


def _off_by(found: int, expected: int, tolerance: float) -> bool:
    return abs(found - expected) > tolerance * expected


def paper_count_warning(stats: dict[str, Any], paper: Any) -> str | None:
    """One line listing the counts that differ from the paper's, or None when all agree.

    Args:
        stats: prepare's stats (`train.raw_tokens` per language, `test.lines`).
        paper: `data.paper_counts` (`train_tokens` per language, `test_lines`, `tolerance`);
            a count it leaves empty is not checked.
    """
    problems = [f"{lang} training tokens {stats['train']['raw_tokens'][lang]:,} (paper "
                f"{expected:,}, more than {paper.tolerance:.0%} off)"
                for lang, expected in paper.train_tokens.items()
                if _off_by(stats["train"]["raw_tokens"][lang], expected, paper.tolerance)]
    if paper.test_lines is not None and stats["test"]["lines"] != paper.test_lines:
        problems.append(f"test set {stats['test']['lines']:,} lines (paper {paper.test_lines:,})")
    if not problems:
        return None
    return ("this corpus is not the one the paper used: " + "; ".join(problems)
            + " (data.paper_counts)")
