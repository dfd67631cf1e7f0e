"""`data.vocab_size: auto`: the smallest shortlist covering a share of the training tokens.

The expected sizes come from the hand-made frequency table itself: words sorted by count (ties
by code point, as the shortlist is built), cumulative counts against the target share.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from rnnsearch import prepare
from rnnsearch.data.vocab import SPECIALS, Vocabulary

# 100 tokens: a 50, b 20, then a tie c = d = 10, then a tie e = f = 5
TABLE = Counter({"d": 10, "a": 50, "f": 5, "c": 10, "b": 20, "e": 5})
N_SPECIALS = len(SPECIALS)


def _expected_size(coverage: float, cap: int) -> int:
    """Independent count: top words in (-count, token) order until the share is reached."""
    ranked = sorted(TABLE.items(), key=lambda item: (-item[1], item[0]))
    total = sum(TABLE.values())
    cumulative = list(itertools.accumulate(n for _, n in ranked))
    words = next(k + 1 for k, c in enumerate(cumulative) if c >= coverage * total)
    return min(words + N_SPECIALS, cap)


@pytest.mark.parametrize("coverage", [0.5, 0.7, 0.75, 0.8, 0.85, 0.95, 1.0])
def test_smallest_shortlist_reaching_the_coverage(coverage: float) -> None:
    size = Vocabulary.size_for_coverage(TABLE, coverage, cap=1000)
    assert size == _expected_size(coverage, cap=1000)
    vocab = Vocabulary.build(TABLE, size)
    assert vocab.coverage_of(TABLE) >= coverage  # reached ...
    assert Vocabulary.build(TABLE, size - 1).coverage_of(TABLE) < coverage  # ... and minimal


def test_a_tie_at_the_boundary_keeps_only_the_words_needed() -> None:
    # 75% needs a + b (70) and one of the two 10s: c (code-point order), not d
    size = Vocabulary.size_for_coverage(TABLE, 0.75, cap=1000)
    assert size == N_SPECIALS + 3
    tokens = Vocabulary.build(TABLE, size).tokens
    assert "c" in tokens and "d" not in tokens


def test_the_cap_wins_and_the_coverage_is_then_lower() -> None:
    size = Vocabulary.size_for_coverage(TABLE, 0.95, cap=N_SPECIALS + 2)
    assert size == N_SPECIALS + 2
    assert Vocabulary.build(TABLE, size).coverage_of(TABLE) == pytest.approx(0.70)


def test_fewer_words_than_needed_gives_all_of_them() -> None:
    assert Vocabulary.size_for_coverage(TABLE, 1.0, cap=1000) == N_SPECIALS + len(TABLE)


@pytest.mark.parametrize(("coverage", "cap"), [(0.0, 100), (1.5, 100), (0.9, 4)])
def test_bad_coverage_or_cap_is_refused(coverage: float, cap: int) -> None:
    with pytest.raises(ValueError, match="data.vocab_"):
        Vocabulary.size_for_coverage(TABLE, coverage, cap)


SRC = {"train": ["a a a b", "a b c", "a d"], "dev": ["a b"], "test": ["b a"]}
TGT = {"train": ["x x y", "x z", "x y w v"], "dev": ["x y"], "test": ["y x"]}


def _corpus_overrides(tmp_path: Path) -> list[str]:
    """A three-pair de->en corpus in tmp_path/corpus and the overrides that read it."""
    raw = tmp_path / "corpus"
    raw.mkdir(exist_ok=True)
    for split in SRC:
        (raw / f"{split}.de").write_text("".join(f"{s}\n" for s in SRC[split]), "utf-8")
        (raw / f"{split}.en").write_text("".join(f"{s}\n" for s in TGT[split]), "utf-8")
    return ["data=parallel_text", "scale=real", f"data.raw_dir={raw}", "data.src_lang=de",
            "data.tgt_lang=en", "data.vocab_max=7", "data.units=word"]  # shortlists: words


def test_prepare_records_the_choice_and_coverage_in_stats_json(
        compose_cfg: Callable[..., DictConfig], tmp_path: Path) -> None:
    cfg = compose_cfg(*_corpus_overrides(tmp_path), "data.vocab_coverage=0.75")
    stats = prepare.run(cfg)
    # de: a 5, b 2, c 1, d 1 (9 tokens): 75% (6.75) needs a, b = 2 words -> K = 6
    # en: x 4, y 2, v w z 1 (9 tokens): needs x, y and v (code point first) -> K = 7 = the cap
    assert stats["vocab"] == {"de": 6, "en": 7}
    choice = stats["vocab_choice"]
    assert choice["de"] == {"size": 6, "train_coverage": round(7 / 9, 6), "capped": False}
    assert choice["en"] == {"size": 7, "train_coverage": round(7 / 9, 6), "capped": False}
    written = json.loads((Path(cfg.data.prepared_dir) / "stats.json").read_text())
    assert written["vocab_choice"] == choice | {"target_coverage": 0.75, "cap": 7}
    assert written["train"]["en"]["unk_rate"] == round(2 / 9, 6)  # = 1 - coverage
    assert (written["vocab_size"], written["vocab_coverage"], written["vocab_max"]) == \
        ("auto", 0.75, 7)  # the settings the training guard compares

    # all of en needs 5 words (K = 9): the cap of 7 keeps x, y, v and says so
    capped = prepare.run(compose_cfg(*_corpus_overrides(tmp_path), "data.vocab_coverage=1.0"))
    assert capped["vocab_choice"]["en"] == {"size": 7, "train_coverage": round(7 / 9, 6),
                                            "capped": True}
