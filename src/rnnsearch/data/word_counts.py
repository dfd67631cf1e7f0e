"""Exact word counts of a large corpus in a few bytes per word type: counted by 64-bit hash.

Paper: Sec. 4.1 (the 30k most frequent words per language). A dict of every word of a web-scale
corpus costs ~130 bytes per type (the string, the entry, the count): a million types per
language on LIUM's selection. Here a word is counted under its 64-bit `hash()` in sorted numpy
arrays (16 bytes per type); only the shortlist's candidates, the words at least as frequent as
the K-th, are turned back into strings (`candidates`), in one more pass over the text. A hash
collision would merge two words' counts; `rnnsearch.prepare` recounts the shortlist's words
exactly while encoding and stops if one differs (Python salts `hash` per process: a rerun
draws other hashes). Not responsible for reading text (`train_encoding.py`) or for the
shortlist rule itself (`vocab.Vocabulary.build`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rnnsearch.data.vocab import SPECIALS

SPECIAL_HASHES = np.array(sorted(hash(s) for s in SPECIALS), dtype=np.int64)
MERGE_KEYS = 1 << 18  # pending chunk keys folded into the table at once (~15 MB transient)


def word_hashes(words: Iterable[str], n: int) -> np.ndarray:
    """(n,) int64 `hash()` of each word (stable within this process only)."""
    return np.fromiter(map(hash, words), dtype=np.int64, count=n)


class HashCounts:
    """Counts of int64 keys as sorted (keys, counts) arrays, updated chunk by chunk.

    Chunks are sorted and reduced on `add`, then folded into the table once they hold
    `MERGE_KEYS` keys: the transient memory of a merge is the new table plus that batch, not a
    second copy of everything pending.
    """

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.counts = np.zeros(0, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_size = 0

    @staticmethod
    def _reduce(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sum the counts of equal keys in `keys` (sorted)."""
        if not len(keys):
            return keys, counts
        starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        return keys[starts], np.add.reduceat(counts, starts)

    def add(self, hashes: np.ndarray) -> None:
        """Count each element of `hashes` once."""
        keys = np.sort(hashes)
        self._pending.append(self._reduce(keys, np.ones(len(keys), dtype=np.int64)))
        self._pending_size += len(self._pending[-1][0])
        if self._pending_size > MERGE_KEYS:
            self._merge()

    def _merge(self) -> None:
        """Fold the pending chunks into the table: add to the keys it has, insert the new ones
        (no sort of the whole table: about twice its size in transient memory)."""
        keys = np.concatenate([k for k, _ in self._pending])
        order = np.argsort(keys, kind="stable")  # sorted runs: timsort merges them
        keys, counts = self._reduce(keys[order],
                                    np.concatenate([c for _, c in self._pending])[order])
        self._pending, self._pending_size = [], 0
        pos = np.searchsorted(self.keys, keys)
        known = pos < len(self.keys)
        known[known] = self.keys[pos[known]] == keys[known]
        self.counts[pos[known]] += counts[known]  # keys are unique: no repeated index
        self.keys = np.insert(self.keys, pos[~known], keys[~known])
        self.counts = np.insert(self.counts, pos[~known], counts[~known])

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, counts), keys sorted and unique."""
        if self._pending:
            self._merge()
        return self.keys, self.counts

    def count_of(self, keys: np.ndarray) -> np.ndarray:
        """The counts of `keys` (0 for a key never added)."""
        table_keys, counts = self.table()
        if not len(table_keys):
            return np.zeros(len(keys), dtype=np.int64)
        pos = np.minimum(np.searchsorted(table_keys, keys), len(table_keys) - 1)
        return np.where(table_keys[pos] == keys, counts[pos], 0)


def word_counts_without_specials(counts: HashCounts) -> tuple[np.ndarray, np.ndarray]:
    """(keys, counts) of `counts` with the special tokens' entries (a literal `<s>` in the text,
    say) left out: they never enter a shortlist (`Vocabulary.build`)."""
    keys, values = counts.table()
    keep = ~np.isin(keys, SPECIAL_HASHES)
    return keys[keep], values[keep]


def candidates(keys: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    """Sorted keys of every word as frequent as the `size`-th most frequent one (ties included).

    `Vocabulary.build(counts of these words, size + 4)` is then the shortlist the counts of
    every word would give: it keeps the most frequent, ties by code point, and every word
    that could win a tie is here.
    """
    if size <= 0:
        return np.zeros(0, dtype=np.int64)
    if len(counts) <= size:
        return keys[counts > 0]
    threshold = max(int(np.partition(counts, len(counts) - size)[len(counts) - size]), 1)
    return keys[counts >= threshold]
