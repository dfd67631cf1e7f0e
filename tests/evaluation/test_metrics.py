"""BLEU via sacrebleu: known values computed by hand, subsets, buckets, significance."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from rnnsearch.evaluation.bleu import (
    bleu_by_length,
    corpus_bleu,
    length_buckets,
    no_unk_indices,
    paired_bootstrap,
    table1_bleu,
)


def test_bleu_identical_corpus_is_100_with_signature() -> None:
    hyps = ["The cat sat on the mat.", "Hello, world!"]
    res = corpus_bleu(hyps, hyps, tokenize="13a")
    assert res.score == pytest.approx(100.0)
    assert "tok:13a" in res.signature and "version:" in res.signature
    assert res.n_sentences == 2


def test_tokenized_bleu_two_sentences_matches_hand_count() -> None:
    # Sentence 1 is identical (5 words); sentence 2 differs in one word ("sat" vs "is").
    # n-gram matches / totals over the corpus: 1: 10/11, 2: 7/9, 3: 4/7, 4: 2/5; equal lengths.
    hyps = ["a b c d e", "the cat sat on the mat"]
    refs = ["a b c d e", "the cat is on the mat"]
    res = corpus_bleu(hyps, refs, tokenize="none")
    expected = 100 * math.exp((math.log(10 / 11) + math.log(7 / 9) + math.log(4 / 7)
                               + math.log(2 / 5)) / 4)  # = 63.40
    assert res.score == pytest.approx(expected, abs=1e-6)
    assert res.precisions == pytest.approx((100 * 10 / 11, 100 * 7 / 9, 100 * 4 / 7, 40.0))
    assert "tok:none" in res.signature and "smooth:none" in res.signature


def test_bleu_brevity_penalty_by_hand() -> None:
    # All n-grams match, hypothesis 4 words vs reference 6: BP = exp(1 - 6/4).
    res = corpus_bleu(["a b c d"], ["a b c d e f"], tokenize="13a")
    assert res.score == pytest.approx(100 * math.exp(1 - 6 / 4), abs=1e-6)


def test_tokenized_bleu_without_any_4gram_match_is_zero() -> None:
    # multi-bleu.perl does not smooth: no matching 4-gram means BLEU 0.
    assert corpus_bleu(["a b c x"], ["a b c d"], tokenize="none").score == 0.0


def test_corpus_bleu_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        corpus_bleu(["a", "b"], ["a"])


def test_no_unk_subset_checks_source_and_reference() -> None:
    src = [np.array([5, 6]), np.array([3, 5]), np.array([7])]
    ref = [np.array([8]), np.array([9]), np.array([4, 3])]
    assert no_unk_indices(src, ref, unk_id=3) == [0]


def test_table1_bleu_all_and_no_unk() -> None:
    text = {"hyp_tok": ["a b c d", "x y z w"], "ref_tok": ["a b c d", "p q r s"],
            "hyp_detok": ["a b c d", "x y z w"], "ref_raw": ["a b c d", "p q r s"]}
    bleu, sigs = table1_bleu(text, keep=[0])
    assert bleu["bleu"]["no_unk"] == 100.0 and bleu["bleu"]["all"] < 100.0
    assert set(sigs) == {"bleu", "bleu_detok"}


def test_length_buckets_from_upper_edges() -> None:
    assert length_buckets([10, 20]) == [("0-9", 0, 10), ("10-19", 10, 20), ("20+", 20, 30)]


def test_bleu_by_length_buckets_counts_and_ci() -> None:
    refs = [" ".join(f"w{i}" for i in range(n)) for n in (4, 5, 6, 12, 15, 25)]
    hyps = list(refs)
    hyps[3] = "w0 w1 w2 w3 x x x x x x x x"  # one imperfect sentence in the 10-19 bucket
    rows = bleu_by_length(hyps, refs, [5, 8, 9, 12, 19, 33], [10, 20, 30], n_samples=200, seed=1)
    assert [(r.bucket, r.n) for r in rows] == [("0-9", 3), ("10-19", 2), ("30+", 1)]
    assert rows[0].bleu == pytest.approx(100.0) and rows[0].ci_low == pytest.approx(100.0)
    assert rows[1].ci_low <= rows[1].bleu <= rows[1].ci_high
    again = bleu_by_length(hyps, refs, [5, 8, 9, 12, 19, 33], [10, 20, 30], n_samples=200, seed=1)
    assert again == rows  # the seeded generator makes the intervals reproducible


def test_paired_bootstrap_prefers_the_better_system() -> None:
    refs = [f"s{i} a b c d e f" for i in range(40)]
    good = list(refs)
    bad = [f"s{i} a x c y e z" for i in range(40)]
    res = paired_bootstrap(("bad", bad), ("good", good), refs, n_samples=200, seed=3)
    assert res.system_bleu == pytest.approx(100.0) and res.baseline_bleu < 50.0
    assert res.p_value < 0.05
    assert "bs:200" in res.signature


def test_bucket_interval_is_sacrebleus_seeded_bootstrap() -> None:
    refs = [f"s{i} a b c d e f g" for i in range(30)]
    hyps = [r if i % 3 else f"s{i} a x c y e z g" for i, r in enumerate(refs)]
    lengths = [8] * 30
    (row,) = bleu_by_length(hyps, refs, lengths, [10], n_samples=300, seed=5)
    (same,) = bleu_by_length(hyps, refs, lengths, [10], n_samples=300, seed=5)
    (other,) = bleu_by_length(hyps, refs, lengths, [10], n_samples=300, seed=6)
    assert row == same and (other.ci_low, other.ci_high) != (row.ci_low, row.ci_high)
    assert row.ci_low < row.bleu < row.ci_high and row.ci_high - row.ci_low < 30


def test_metrics_uses_no_private_sacrebleu_members() -> None:
    """Only sacreBLEU's public API (`corpus_score(n_bootstrap=)`, `PairedTest`, `format`)."""
    import rnnsearch.evaluation.bleu as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    private = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
               and n.attr.startswith("_") and not n.attr.startswith("__")]
    assert private == []
