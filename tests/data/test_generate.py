"""Embedded corpus generator: determinism, freshness of data/embedded, translation properties."""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from rnnsearch.config import EmbeddedCorpusConfig
from rnnsearch.corpora.embedded.generator import SplitText, bucket_of, generate_corpus, write_corpus
from rnnsearch.data.moses import tokenize_line
from rnnsearch.data.vocab import UNK_ID, Vocabulary

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = EmbeddedCorpusConfig(n_train=300, n_dev=20, n_test=70, lexicon_size=300)


@pytest.fixture(scope="module")
def corpus() -> dict[str, SplitText]:
    """The default corpus (the one committed under data/embedded), generated in memory."""
    return generate_corpus(EmbeddedCorpusConfig())


def _alignments(line: str) -> list[tuple[int, int]]:
    return [tuple(map(int, link.split("-"))) for link in line.split()]


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    write_corpus(generate_corpus(SMALL), tmp_path / "a")
    write_corpus(generate_corpus(SMALL), tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["dev.en.gz", "dev.fr.gz", "test.align.gz", "test.en.gz", "test.fr.gz",
                     "train.en.gz", "train.fr.gz"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_other_seed_gives_other_corpus() -> None:
    assert generate_corpus(SMALL)["train"].en != generate_corpus(replace(SMALL, seed=7))["train"].en


def test_committed_corpus_is_fresh(corpus: dict[str, SplitText], tmp_path: Path) -> None:
    # Content bytes, not gzip bytes: another zlib build may compress the same text differently.
    committed = REPO_ROOT / "data" / "embedded"
    write_corpus(corpus, tmp_path)
    for path in sorted(tmp_path.iterdir()):
        old = gzip.decompress((committed / path.name).read_bytes())
        assert old == gzip.decompress(path.read_bytes()), f"{path.name}: run rnnsearch.generate"
    assert sum(p.stat().st_size for p in committed.iterdir()) < 3_000_000


def test_rewrite_skips_unchanged_files(tmp_path: Path) -> None:
    splits = generate_corpus(SMALL)
    assert len(write_corpus(splits, tmp_path)) == 7
    assert write_corpus(splits, tmp_path) == []


def test_tokens_match_moses_and_alignments(corpus: dict[str, SplitText]) -> None:
    test = corpus["test"]
    for k in range(0, len(test.en), 7):
        en, fr = tokenize_line(test.en[k], "en"), tokenize_line(test.fr[k], "fr")
        assert len(en) == test.src_lengths[k]
        links = _alignments(test.align[k])
        assert max(i for i, _ in links) < len(en) and max(j for _, j in links) < len(fr)


def test_lengths_spread_and_test_buckets_filled(corpus: dict[str, SplitText]) -> None:
    train = corpus["train"].src_lengths
    assert min(train) == 1 and max(train) >= 60
    assert sum(n > 30 for n in train) > 0.15 * len(train)  # enough long pairs for *-50 models
    test = corpus["test"].src_lengths
    assert max(test) <= 70
    for convention in (lambda n: n, lambda n: n - 1):  # [lo, hi) and (lo, hi] buckets
        counts = Counter(bucket_of(max(convention(n), 0), 10, 7) for n in test)
        assert all(counts[b] >= 100 for b in range(7)), counts


def test_translation_is_not_a_copy(corpus: dict[str, SplitText]) -> None:
    test = corpus["test"]
    shared = total = crossing = differ = 0
    for en_line, fr_line, align in zip(test.en, test.fr, test.align, strict=True):
        en, fr = en_line.split(), fr_line.split()
        shared += sum(w in set(en) for w in fr if w.isalpha() and w.islower())
        total += len(fr)
        links = _alignments(align)
        crossing += any(i1 < i2 and j1 > j2 for i1, j1 in links for i2, j2 in links)
        differ += len(en) != len(fr)
    assert shared / total < 0.02  # disjoint word forms: only names, numbers, punctuation copy
    assert crossing > 0.5 * len(test.en)  # local reordering (adjectives, possessives, negation)
    assert differ > 0.5 * len(test.en)  # one-to-many / many-to-one correspondences


def test_grammar_correspondences(corpus: dict[str, SplitText]) -> None:
    pairs = list(zip(corpus["train"].en, corpus["train"].fr, strict=True))
    negated = [(e, f) for e, f in pairs if " not " in e and "," not in e]
    assert negated and all(" pas " in f or " pas." in f for _, f in negated[:200])
    assert sum("'s " in e for e, _ in pairs) > 100  # possessives, reordered to "N de NP"
    assert sum(" du " in f or " au " in f for _, f in pairs) > 100  # de+le / a+le contraction


def test_unk_occurs_on_both_sides_at_demo_shortlist(corpus: dict[str, SplitText]) -> None:
    rates, no_unk = [], None
    for lang in ("en", "fr"):
        train = [line.split() for line in getattr(corpus["train"], lang)]
        vocab = Vocabulary.build(Counter(t for s in train for t in s), 700)  # scale=demo
        ids = [vocab.encode(line.split()) for line in getattr(corpus["test"], lang)]
        rates.append(sum(r.count(UNK_ID) for r in ids) / sum(map(len, ids)))
        side = [UNK_ID not in r for r in ids]
        no_unk = side if no_unk is None else [a and b for a, b in zip(no_unk, side, strict=True)]
    assert all(0.002 < r < 0.1 for r in rates), rates  # 300 lemmas: ~0.5% En, ~2% Fr
    assert sum(no_unk) >= 100  # the paper's "No UNK" subset is not empty


def test_no_test_or_dev_sentence_is_in_the_training_set(corpus: dict[str, SplitText]) -> None:
    """Table 1 would be inflated silently if test sources were trained on."""
    train = set(corpus["train"].en)
    for split in ("test", "dev"):
        assert not train & set(corpus[split].en), split
    assert not set(corpus["test"].en) & set(corpus["dev"].en)
    for split, text in corpus.items():
        assert len(set(text.en)) == len(text.en), split  # no sentence twice within a split
