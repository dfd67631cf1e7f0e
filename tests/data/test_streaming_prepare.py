"""The streamed training split: same ids as an in-memory encoding, GroundHog's shortlist
counting, byte-identical reruns, the paper's counts, and invalid UTF-8 in bulk text."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from rnnsearch import generate, prepare
from rnnsearch.data import train_encoding
from rnnsearch.data.moses import clean_line, pretokenized_lines, pretokenized_tokens, tokenize_lines
from rnnsearch.data.parallel_files import DataError, load_split, read_parallel
from rnnsearch.data.tokenized_pairs import encode_all
from rnnsearch.data.vocab import Vocabulary

SHORT_EN, SHORT_FR = "a cat sat .\nthe dog ran .\n", "un chat .\nle chien court .\n"
LONG_WORD = "zyzzyva"  # frequent, but only in pairs longer than prepare_max_len


def _corpus(cfg: DictConfig, write_raw: Callable, **files: str | bytes) -> None:
    base = {"train.en": SHORT_EN * 20, "train.fr": SHORT_FR * 20, "dev.en": SHORT_EN,
            "dev.fr": SHORT_FR, "test.en": SHORT_EN * 2, "test.fr": SHORT_FR * 2}
    base.update({k.replace("_", "."): v for k, v in files.items()})
    write_raw(Path(cfg.data.raw_dir), base)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and r.name == "rnnsearch.data.prepare_stage"]


@pytest.mark.parametrize("pretokenized", [False, True])
def test_streamed_train_ids_equal_an_in_memory_encoding(
        tiny_cfg: Callable, monkeypatch: pytest.MonkeyPatch, pretokenized: bool) -> None:
    """Small chunks (7 pairs to Moses, 5 pretokenized) and spool blocks (~64 bytes) cross
    every boundary case."""
    monkeypatch.setattr(train_encoding, "READ_CHUNK", 7)
    monkeypatch.setattr(train_encoding, "CHUNK", 5)
    monkeypatch.setattr(train_encoding, "BLOCK_BYTES", 64)
    cfg = tiny_cfg("data.prepare_max_len=30", f"data.pretokenized={pretokenized}")
    generate.run(cfg)
    stats = prepare.run(cfg)
    raw, out = Path(cfg.data.raw_dir), Path(cfg.data.prepared_dir)
    src, tgt = read_parallel(raw / "train.en.gz", raw / "train.fr.gz")
    toks = [[pretokenized_tokens(clean_line(x), lang) for x in side] if pretokenized
            else tokenize_lines([clean_line(x) for x in side], lang)
            for side, lang in ((src, "en"), (tgt, "fr"))]
    kept = [k for k in range(len(src)) if all(1 <= len(t[k]) <= 30 for t in toks)]
    train = load_split(out, "train")
    for lang, side, tok in (("en", train.src, toks[0]), ("fr", train.tgt, toks[1])):
        vocab = Vocabulary.load(out / f"vocab.{lang}.txt")
        assert [ids.tolist() for ids in side] == encode_all(vocab, [tok[k] for k in kept])
        assert stats["train"]["raw_tokens"][lang] == sum(map(len, tok))
        assert stats["train"][lang]["tokens"] == sum(len(tok[k]) for k in kept)
    assert stats["train"]["pairs"] == len(kept) < stats["train"]["lines"] == len(src)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_pretokenized_chunks_equal_line_by_line_cleaning() -> None:
    lines = ["l&apos; homme &amp;lt; x", "", "a\rb\u2028c  d", "  &quot;oui&quot; ", "&#124;"]
    expected = [pretokenized_tokens(clean_line(line), "fr") for line in lines]
    assert pretokenized_lines(lines, "fr") == expected
    assert expected[0] == ["l'", "homme", "&lt;", "x"] and expected[2] == ["a", "b", "c", "d"]
    assert pretokenized_lines([], "fr") == []


@pytest.mark.parametrize(("count", "in_shortlist"), [("all_lines", True), ("kept_pairs", False)])
def test_a_word_only_in_long_pairs_is_counted_over_all_lines(
        tiny_cfg: Callable, write_raw: Callable, count: str, in_shortlist: bool) -> None:
    """GroundHog's preprocess.py counts every training line before the length filter."""
    cfg = tiny_cfg("data.vocab_size=10", f"data.vocab_count={count}")
    long_en = " ".join([LONG_WORD] * 60) + "\n"  # 60 tokens > prepare_max_len=50
    _corpus(cfg, write_raw, train_en=SHORT_EN * 20 + long_en * 3,
            train_fr=SHORT_FR * 20 + "un chat .\n" * 3)
    stats = prepare.run(cfg)
    out = Path(cfg.data.prepared_dir)
    words = (out / "vocab.en.txt").read_text(encoding="utf-8").split()
    assert (LONG_WORD in words) is in_shortlist
    assert stats["train"]["dropped_length"] == 3 and stats["vocab_count"] == count
    train = load_split(out, "train")  # the length filter still applies to the pairs trained on
    assert len(train) == 40 and max(len(s) for s in train.src) <= 50


def test_two_prepare_runs_write_identical_bytes(tiny_cfg: Callable,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun an hour later gives the same bytes in every file (no time stamp anywhere), so
    DVC sees nothing changed."""
    cfg = tiny_cfg()
    generate.run(cfg)
    out = Path(cfg.data.prepared_dir)
    prepare.run(cfg)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    report = Path(cfg.data.stats_report).read_bytes()
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    prepare.run(cfg)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert Path(cfg.data.stats_report).read_bytes() == report


def test_stats_record_raw_totals_and_paper_counts_warn_in_one_line(
        tiny_cfg: Callable, write_raw: Callable, caplog: pytest.LogCaptureFixture) -> None:
    cfg = tiny_cfg()
    _corpus(cfg, write_raw, train_en=SHORT_EN * 20 + "\n", train_fr=SHORT_FR * 20 + "seul .\n")
    stats = prepare.run(cfg)
    assert stats["train"]["raw_tokens"] == {"en": 160, "fr": 142}  # the unpaired line counts
    assert (stats["dev"]["lines"], stats["test"]["lines"]) == (2, 4)
    assert _warnings(caplog) == []  # no paper_counts for this corpus: nothing checked
    on_disk = json.loads((Path(cfg.data.prepared_dir) / "stats.json").read_text())
    assert on_disk["train"]["raw_tokens"] == stats["train"]["raw_tokens"]

    caplog.clear()
    close = "++data.paper_counts.train_tokens={en:155,fr:140}"  # within 5%
    prepare.run(tiny_cfg(close, "data.paper_counts.test_lines=4"))
    assert _warnings(caplog) == []
    prepare.run(tiny_cfg("++data.paper_counts.train_tokens={en:304000000,fr:142}",
                         "data.paper_counts.test_lines=3003"))
    [line] = _warnings(caplog)
    assert "en training tokens 160 (paper 304,000,000" in line and "fr training" not in line
    assert "test set 4 lines (paper 3,003)" in line and "\n" not in line


@pytest.mark.parametrize(("pretokenized", "words"), [(False, ["\ufffd", "cr"]),  # Moses splits
                                                     (True, ["caf\ufffd", "cr\ufffdme"])])
def test_invalid_utf8_in_training_text_is_replaced_and_counted(
        tiny_cfg: Callable, write_raw: Callable, caplog: pytest.LogCaptureFixture,
        pretokenized: bool, words: list[str]) -> None:
    cfg = tiny_cfg("data.invalid_utf8=replace", f"data.pretokenized={pretokenized}")
    bad = SHORT_FR.encode() + b"caf\xe9 cr\xe8me .\n"  # Latin-1 bytes: lines 3, 6, 9, ...
    _corpus(cfg, write_raw, train_en=(SHORT_EN + "a coffee .\n") * 20, train_fr=bad * 20)
    stats = prepare.run(cfg)
    assert stats["train"]["invalid_utf8"]["fr"] == {"lines": 20, "first": [3, 6, 9, 12, 15]}
    assert stats["train"]["invalid_utf8"]["en"] == {"lines": 0, "first": []}
    [line] = _warnings(caplog)
    assert f"{Path(cfg.data.raw_dir) / 'train.fr'}: 20 lines, the first at lines 3, 6, 9, 12, 15" \
        in line and "train.en" not in line
    vocab = (Path(cfg.data.prepared_dir) / "vocab.fr.txt").read_text(encoding="utf-8").split()
    assert set(words) <= set(vocab)


def test_invalid_utf8_in_training_text_stops_by_default(tiny_cfg: Callable,
                                                         write_raw: Callable) -> None:
    cfg = tiny_cfg()
    assert cfg.data.invalid_utf8 == "error"
    _corpus(cfg, write_raw, train_en=SHORT_EN * 3 + "a coffee .\n",
            train_fr=SHORT_FR.encode() * 3 + b"caf\xe9 .\n")
    with pytest.raises(DataError, match=r"train\.fr:7: invalid UTF-8") as err:
        prepare.run(cfg)
    assert "\n" not in str(err.value)


def test_invalid_utf8_in_the_test_file_stops_even_with_replace(tiny_cfg: Callable,
                                                               write_raw: Callable) -> None:
    cfg = tiny_cfg("data.invalid_utf8=replace")
    _corpus(cfg, write_raw, test_fr=b"un chat .\nle chien \xff court .\n")
    with pytest.raises(DataError) as err:
        prepare.run(cfg)
    message = str(err.value)
    assert message.startswith(f"{Path(cfg.data.raw_dir) / 'test.fr'}:2: invalid UTF-8")
    assert "\n" not in message
    assert not (Path(cfg.data.prepared_dir) / "stats.json").exists()
