"""`rnnsearch.prepare` on a tiny generated corpus: the prepared-artefact contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig

from rnnsearch import generate, prepare
from rnnsearch.data import moses
from rnnsearch.data.parallel_files import load_split
from rnnsearch.data.vocab import UNK, UNK_ID, Vocabulary

ARRAYS = [f"{split}.{side}.{kind}.npy" for split in ("train", "dev", "test")
          for side in ("src", "tgt") for kind in ("ids", "offsets")]
CONTRACT = ["vocab.en.txt", "vocab.fr.txt", *ARRAYS, "dev.en.tok", "dev.fr.tok", "test.en.tok",
            "test.fr.tok", "dev.en.raw", "dev.fr.raw", "test.en.raw", "test.fr.raw", "stats.json"]


@pytest.fixture
def prepared(tiny_cfg: Callable[..., DictConfig]) -> tuple[DictConfig, dict]:
    cfg = tiny_cfg("data.prepare_max_len=40")
    generate.run(cfg)
    return cfg, prepare.run(cfg)


def test_contract_files_exist(prepared: tuple[DictConfig, dict]) -> None:
    cfg, _ = prepared
    out = Path(cfg.data.prepared_dir)
    assert sorted(p.name for p in out.iterdir()) == sorted(CONTRACT)
    assert Path(cfg.data.stats_report).is_file()


def test_id_arrays_offsets_and_dtypes(prepared: tuple[DictConfig, dict]) -> None:
    out = Path(prepared[0].data.prepared_dir)
    for split in ("train", "dev", "test"):
        n = []
        for side in ("src", "tgt"):
            ids = np.load(out / f"{split}.{side}.ids.npy")
            off = np.load(out / f"{split}.{side}.offsets.npy")
            assert ids.dtype == np.int32 and off.dtype == np.int64
            assert off[0] == 0 and off[-1] == len(ids) and np.all(np.diff(off) >= 1)
            n.append(len(off))
        assert n[0] == n[1]


def test_training_split_is_memory_mapped(prepared: tuple[DictConfig, dict]) -> None:
    train = load_split(prepared[0].data.prepared_dir, "train")
    for side in (train.src, train.tgt):
        assert isinstance(side.ids, np.memmap) and isinstance(side.offsets, np.memmap)
        assert np.shares_memory(side[3], side.ids)  # a sentence is a view, not a copy


def test_splits_sizes_lengths_and_vocab(prepared: tuple[DictConfig, dict]) -> None:
    cfg, stats = prepared
    out = Path(cfg.data.prepared_dir)
    vocabs = [Vocabulary.load(out / f"vocab.{lang}.txt") for lang in ("en", "fr")]
    assert [len(v) for v in vocabs] == [300, 300]
    train = load_split(out, "train")
    assert len(train) == stats["train"]["pairs"] > 400
    assert stats["train"]["pairs"] + stats["train"]["dropped_length"] == 600
    assert all(1 <= len(s) <= 40 for s in [*train.src, *train.tgt])
    assert len(load_split(out, "dev")) == 40 and len(load_split(out, "test")) == 70
    for side, vocab in zip((train.src, train.tgt), vocabs, strict=True):
        assert all(a.dtype == np.int32 and a.max() < len(vocab) for a in side)


def test_tok_raw_and_ids_agree(prepared: tuple[DictConfig, dict]) -> None:
    cfg, stats = prepared
    out = Path(cfg.data.prepared_dir)
    test = load_split(out, "test")
    for lang, side in (("en", test.src), ("fr", test.tgt)):
        vocab = Vocabulary.load(out / f"vocab.{lang}.txt")
        tok = (out / f"test.{lang}.tok").read_text(encoding="utf-8").split("\n")[:-1]
        raw = (out / f"test.{lang}.raw").read_text(encoding="utf-8").split("\n")[:-1]
        assert len(tok) == len(raw) == len(side)
        for line, ids in zip(tok, side, strict=True):
            expected = [t if vocab.token_to_id(t) != UNK_ID else UNK for t in line.split()]
            assert vocab.decode(ids) == expected
        n_unk = sum(int((ids == UNK_ID).sum()) for ids in side)
        assert stats["test"][lang]["unk_tokens"] == n_unk > 0
    assert sum(stats["test"]["en"]["length_histogram"].values()) == 70


def test_stats_json_is_written_last_and_complete(prepared: tuple[DictConfig, dict]) -> None:
    cfg, stats = prepared
    out = Path(cfg.data.prepared_dir)
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk == json.loads(json.dumps(stats))
    newest = max((out / name).stat().st_mtime_ns for name in CONTRACT[:-1])
    assert (out / "stats.json").stat().st_mtime_ns >= newest
    for split in ("train", "dev", "test"):
        assert {"pairs", "dropped_empty", "dropped_length", "en", "fr"} <= set(stats[split])
        assert 0 < stats[split]["fr"]["unk_rate"] < 0.5


def test_rerun_is_idempotent(prepared: tuple[DictConfig, dict]) -> None:
    """Same stats.json bytes (no timing in it: the DVC output hash stays the same)."""
    cfg, stats = prepared
    before = (Path(cfg.data.prepared_dir) / "stats.json").read_bytes()
    again = prepare.run(cfg)
    assert again == stats and "seconds" not in stats
    assert (Path(cfg.data.prepared_dir) / "stats.json").read_bytes() == before
    timing = json.loads((Path(cfg.paths.reports_dir) / "runs" / "prepare.json").read_text())
    assert timing["seconds"] > 0


def test_missing_raw_dir_names_the_command(tiny_cfg: Callable[..., DictConfig]) -> None:
    with pytest.raises(FileNotFoundError, match=r"python -m rnnsearch\.generate"):
        prepare.run(tiny_cfg())


def test_missing_prepared_dir_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"python -m rnnsearch\.prepare data=embedded"):
        load_split(tmp_path / "prepared" / "embedded", "train")
    (tmp_path / "prepared" / "embedded").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"train\.src\.ids\.npy.*rnnsearch\.prepare"):
        load_split(tmp_path / "prepared" / "embedded", "train")


def test_parallel_tokenization_matches_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moses, "_MIN_PARALLEL", 10)
    monkeypatch.setattr(moses, "_CHUNK", 7)
    jobs = [([f"L'homme n'a pas vu l'arbre {i}, dit-il." for i in range(40)], "fr"),
            ([f"The cat's {i} houses didn't fall." for i in range(25)], "en")]
    assert moses.tokenize_many(jobs, workers=2) == moses.tokenize_many(jobs, workers=1)
