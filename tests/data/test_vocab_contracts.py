"""Vocabulary edge cases: zero counts are not words, an empty count covers everything, unknown
tokens map to [UNK], and equal vocabularies hash alike."""

from __future__ import annotations

from collections import Counter

import pytest

from rnnsearch.data.vocab import SPECIALS, UNK_ID, Vocabulary


def test_a_token_counted_zero_times_is_not_a_word() -> None:
    counts = Counter({"a": 3, "b": 1, "gone": 0})  # Counter arithmetic leaves zeros behind
    assert Vocabulary.build(counts, 10).tokens == [*SPECIALS, "a", "b"]
    assert Vocabulary.size_for_coverage(Counter({"gone": 0}), 0.9, 100) == len(SPECIALS)
    assert Vocabulary.build(Counter({"gone": 0}), 100).tokens == list(SPECIALS)


def test_coverage_of_no_tokens_is_complete() -> None:
    vocab = Vocabulary([*SPECIALS, "a"])
    assert vocab.coverage_of(Counter()) == 1.0
    assert vocab.coverage_of(Counter({"a": 3, "b": 1})) == 0.75


def test_an_unknown_token_has_the_unk_id() -> None:
    vocab = Vocabulary([*SPECIALS, "a"])
    assert vocab.token_to_id("zzz") == UNK_ID and vocab.token_to_id("a") == len(SPECIALS)


def test_equal_vocabularies_hash_alike_and_work_as_keys() -> None:
    a, b, c = (Vocabulary([*SPECIALS, *w]) for w in (["x", "y"], ["x", "y"], ["y", "x"]))
    assert hash(a) == hash(b) and a == b and a != c
    assert {a: 1, b: 2, c: 3} == {a: 2, c: 3}


def test_an_id_outside_the_vocabulary_is_refused_naming_it_and_the_size() -> None:
    vocab = Vocabulary([*SPECIALS, "a"])
    for bad in (5, -1):
        with pytest.raises(IndexError, match=f"^token id {bad} outside vocabulary of size 5$"):
            vocab.id_to_token(bad)
    assert vocab.id_to_token(4) == "a"
