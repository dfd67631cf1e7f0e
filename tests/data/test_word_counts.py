"""Word counts by hash: exact counts, and candidates that give the full-count shortlist."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnsearch.data import word_counts
from rnnsearch.data.vocab import SPECIALS, Vocabulary
from rnnsearch.data.word_counts import (
    HashCounts,
    candidates,
    word_counts_without_specials,
    word_hashes,
)

WORDS = st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "été", "<s>", "[UNK]"])


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.lists(WORDS, max_size=30), max_size=12), size=st.integers(1, 8))
def test_hash_counts_and_candidates_give_the_full_count_shortlist(chunks: list[list[str]],
                                                                  size: int) -> None:
    counts = HashCounts()
    for chunk in chunks:
        counts.add(word_hashes(chunk, len(chunk)))
    full = Counter(w for chunk in chunks for w in chunk)
    keys, values = counts.table()
    assert sorted(values.tolist()) == sorted(full.values())
    assert counts.count_of(word_hashes(["a", "zzz"], 2)).tolist() == [full["a"], 0]
    keys, values = word_counts_without_specials(counts)
    chosen = candidates(keys, values, size)
    by_hash = {hash(w): w for w in full}
    restricted = Counter({by_hash[int(k)]: full[by_hash[int(k)]] for k in chosen})
    assert Vocabulary.build(restricted, size + len(SPECIALS)) == Vocabulary.build(
        full, size + len(SPECIALS))


def test_merging_keeps_counts_exact_over_many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(word_counts, "MERGE_KEYS", 5000)  # a merge every other chunk
    rng = np.random.default_rng(0)
    counts, expected = HashCounts(), Counter()
    for _ in range(40):
        chunk = rng.integers(0, 5000, size=3000)
        counts.add(chunk)
        expected.update(chunk.tolist())
    keys, values = counts.table()
    assert dict(zip(keys.tolist(), values.tolist(), strict=True)) == expected
    assert np.all(np.diff(keys) > 0)
