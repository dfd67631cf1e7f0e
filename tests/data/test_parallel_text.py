"""`data=parallel_text`: a user's own line-aligned corpus, end to end, and Figure 2's buckets.

A tiny made-up German->English corpus is written to a temporary directory; prepare -> train
(smoke trainer, tiny model) -> translate -> evaluate run through the stages' `run(cfg)`.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig
from sacrebleu.metrics import BLEU
from tests.conftest import TINY_MODEL

from rnnsearch import evaluate, prepare, train, translate
from rnnsearch.data.guards import check_corpus_scale
from rnnsearch.data.parallel_files import DataError
from rnnsearch.evaluation.bleu import adapt_length_edges, bleu_by_length

NOUNS = {"Hund": "dog", "Katze": "cat", "Mann": "man", "Frau": "woman", "Kind": "child",
         "Buch": "book", "Haus": "house", "Baum": "tree"}
ADJECTIVES = {"große": "big", "kleine": "small", "alte": "old", "junge": "young"}
VERBS = {"sieht": "sees", "hat": "has", "liest": "reads", "mag": "likes", "findet": "finds"}


def _clause(rng: random.Random, adjectives: bool) -> tuple[list[str], list[str]]:
    """"der [Adj] N V der [Adj] N" -> "the [adj] n v the [adj] n": 5 words, 7 with adjectives."""
    de, en = [], []
    for k in range(2):
        noun = rng.choice(sorted(NOUNS))
        adj = [rng.choice(sorted(ADJECTIVES))] if adjectives else []
        de += ["der", *adj, noun]
        en += ["the", *(ADJECTIVES[a] for a in adj), NOUNS[noun]]
        if k == 0:
            verb = rng.choice(sorted(VERBS))
            de.append(verb)
            en.append(VERBS[verb])
    return de, en


def _sentence(rng: random.Random, long: bool) -> tuple[str, str]:
    """Short: one clause (5 or 7 words); long: two clauses joined by und/and (11 to 15 words)."""
    de, en = _clause(rng, rng.random() < 0.5)
    if long:
        de2, en2 = _clause(rng, rng.random() < 0.5)
        de, en = [*de, "und", *de2], [*en, "and", *en2]
    return " ".join(de), " ".join(en)


def write_corpus(raw_dir: Path, n_train: int = 80, seed: int = 0) -> Path:
    """train.{de,en}.gz, dev.{de,en}, test.{de,en} (12 short + 12 long test sentences)."""
    rng = random.Random(seed)
    raw_dir.mkdir(parents=True, exist_ok=True)
    splits = {"train": [_sentence(rng, rng.random() < 0.4) for _ in range(n_train)],
              "dev": [_sentence(rng, k % 2 == 1) for k in range(8)],
              "test": [_sentence(rng, k % 2 == 1) for k in range(24)]}
    for split, pairs in splits.items():
        for lang, side in (("de", 0), ("en", 1)):
            text = "".join(p[side] + "\n" for p in pairs).encode("utf-8")
            if split == "train":
                (raw_dir / f"{split}.{lang}.gz").write_bytes(gzip.compress(text))
            else:
                (raw_dir / f"{split}.{lang}").write_bytes(text)
    return raw_dir


TINY = ("data=parallel_text", "data.src_lang=de", "data.tgt_lang=en", "data.vocab_size=40",
        *TINY_MODEL, "data.batch_size=16", "data.sort_batches=2", "data.dev_bleu_sentences=4",
        "trainer=smoke", "decode.beam_size=2", "decode.batch_size=32",
        "eval.bootstrap_samples=20", "experiment=rnnsearch_30")


@pytest.fixture
def text_cfg(compose_cfg: Callable[..., DictConfig], tmp_path: Path) -> Callable[..., DictConfig]:
    """The tiny parallel_text config, raw_dir at tmp_path/corpus, plus overrides."""

    def _make(*overrides: str) -> DictConfig:
        return compose_cfg(*TINY, f"data.raw_dir={tmp_path / 'corpus'}", *overrides)

    return _make


def test_prepare_train_translate_evaluate_on_a_german_english_corpus(
        text_cfg: Callable[..., DictConfig], tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus")
    cfg = text_cfg()
    assert "embedded" not in cfg.data.raw_dir and cfg.data.name == "parallel_text"
    stats = prepare.run(cfg)
    out = Path(cfg.data.prepared_dir)
    assert out == tmp_path / "artifacts" / "prepared" / "parallel_text"
    for name in ("vocab.de.txt", "vocab.en.txt", "train.src.ids.npy", "dev.tgt.offsets.npy",
                 "test.src.ids.npy", "test.de.tok", "test.en.tok", "test.de.raw", "test.en.raw",
                 "stats.json"):
        assert (out / name).is_file(), name
    assert stats["data"] == "parallel_text" and stats["scale"] == "demo"
    assert (stats["train"]["pairs"], stats["dev"]["pairs"], stats["test"]["pairs"]) == (80, 8, 24)
    assert "Hund" in (out / "vocab.de.txt").read_text(encoding="utf-8").split()
    assert "dog" in (out / "vocab.en.txt").read_text(encoding="utf-8").split()

    train.run(cfg)  # the prepared-settings guard passes: same data, scale and shortlist
    translate.run(cfg)
    hyps = (tmp_path / "artifacts/translations/rnnsearch_30/test.hyp.tok").read_text().splitlines()
    assert len(hyps) == 24
    metrics = evaluate.run(cfg)
    written = json.loads((tmp_path / "reports/metrics/rnnsearch_30.json").read_text())
    assert written["bleu"] == metrics["bleu"]  # Table 1's scores reach the DVC metrics
    trans = tmp_path / "artifacts/translations/rnnsearch_30"
    for key, hyp, ref, tokenize in (("bleu", "test.hyp.tok", "test.en.tok", "none"),
                                    ("bleu_detok", "test.hyp.detok", "test.en.raw", "13a")):
        hyp_lines, ref_lines = ((d / f).read_text(encoding="utf-8").splitlines()
                                for d, f in ((trans, hyp), (out, ref)))
        plain = {"smooth_method": "none", "force": True} if tokenize == "none" else {}
        score = BLEU(tokenize=tokenize, **plain).corpus_score(hyp_lines, [ref_lines]).score
        assert metrics[key]["all"] == round(score, 2), key  # recomputed from the written files
    assert metrics["n_sentences"]["all"] == 24 and "alignment" not in metrics  # no gold links
    # Figure 2: the configured edges 10..60 on sources of 5-15 words adapt to 0-9 and 10+
    csv = (tmp_path / "reports/plots/rnnsearch_30/bleu_by_length.csv").read_text().splitlines()
    assert csv[0] == "bucket,length,bleu,ci_low,ci_high,n"
    assert [(row.split(",")[0], row.split(",")[-1]) for row in csv[1:]] == \
        [("0-9", "12"), ("10+", "12")]


def test_missing_file_is_one_line_naming_it(text_cfg: Callable[..., DictConfig],
                                            tmp_path: Path) -> None:
    raw = write_corpus(tmp_path / "corpus", n_train=10)
    (raw / "dev.en").unlink()
    with pytest.raises(FileNotFoundError) as err:
        prepare.run(text_cfg())
    msg = str(err.value)
    assert f"{raw}/dev.en[.gz|.sgm]" in msg and "docs/data.md" in msg and "\n" not in msg


def test_line_count_mismatch_is_one_line_naming_both_files(
        text_cfg: Callable[..., DictConfig], tmp_path: Path) -> None:
    raw = write_corpus(tmp_path / "corpus", n_train=10)
    lines = (raw / "test.de").read_text(encoding="utf-8").splitlines()
    (raw / "test.de").write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        prepare.run(text_cfg())
    msg = str(err.value)
    assert f"{raw / 'test.de'} has 21 lines but {raw / 'test.en'} has 24" in msg
    assert "\n" not in msg


def test_languages_are_required(compose_cfg: Callable[..., DictConfig], tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus", n_train=10)
    cfg = compose_cfg("data=parallel_text", f"data.raw_dir={tmp_path / 'corpus'}")
    with pytest.raises(ValueError, match=r"^data=parallel_text needs data\.src_lang and "
                                         r"data\.tgt_lang: .*data\.src_lang=de"):
        prepare.run(cfg)


@pytest.mark.parametrize("scale", ["demo", "paper"])
def test_parallel_text_runs_at_either_scale(text_cfg: Callable[..., DictConfig],
                                            scale: str) -> None:
    cfg = text_cfg(f"scale={scale}")
    check_corpus_scale(cfg)  # no error: only wmt14_en_fr is tied to scale=paper
    assert cfg.data.vocab_size == 40 and cfg.scale_name == scale


@pytest.mark.parametrize(("lengths", "min_n", "expected"), [
    ([5] * 12 + [12] * 12, 10, [10]),  # nothing of 20+ words: 0-9 and 10+
    ([5] * 12 + [12] * 3 + [25] * 12, 10, [10]),  # 10-19 too small: merged upwards
    ([5] * 3 + [15] * 12 + [25] * 12, 10, [20]),  # 0-9 too small: merged upwards
    ([5] * 12 + [15] * 12 + [45] * 2, 10, [10]),  # 20+ too small: merged downwards
    ([5] * 30 + [15] * 30 + [35] * 30, 10, [10, 20]),  # empty 20-29 and tail: one 20+
    ([5] * 30 + [15] * 30 + [45] * 30 + [65] * 30, 10, [10, 20, 50]),  # 20-49, 50+
    ([5] * 3, 10, [60]),  # never fewer than two buckets (the empty one gets no row)
    ([5] * 12 + [45] * 1, 0, [10, 20, 30, 40, 50, 60]),  # 0: the configured edges as given
])
def test_bucket_edges_adapt_to_the_test_set(lengths: list[int], min_n: int,
                                            expected: list[int]) -> None:
    assert adapt_length_edges(lengths, [10, 20, 30, 40, 50, 60], min_n) == expected


def test_bleu_by_length_merges_small_buckets_and_skips_empty_ones() -> None:
    lengths = [4] * 10 + [12] * 10 + [45] * 2
    refs = [" ".join(f"w{i}" for i in range(n)) for n in lengths]
    rows = bleu_by_length(refs, refs, lengths, [10, 20, 30, 40, 50, 60], n_samples=0,
                          min_sentences=10)
    assert [(r.bucket, r.lo, r.hi, r.n) for r in rows] == [("0-9", 0, 10, 10),
                                                           ("10+", 10, 20, 12)]
    assert all(r.bleu == pytest.approx(100.0) for r in rows)
    kept = bleu_by_length(refs, refs, lengths, [10, 20, 30, 40, 50, 60], n_samples=0)
    assert [r.bucket for r in kept] == ["0-9", "10-19", "40-49"]  # empty: no row, not BLEU 0
