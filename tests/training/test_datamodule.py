"""ParallelTextDataModule: length filter, loaders, dev BLEU subset, missing-data error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import DictConfig

from rnnsearch.data.batching import Batch, ResumableDataLoader
from rnnsearch.training.datamodule import ParallelTextDataModule

Compose = Callable[..., DictConfig]


def test_training_pairs_respect_max_len_on_both_sides(train_cfg: Compose) -> None:
    dm = ParallelTextDataModule(train_cfg("data.max_len=5").data, seed=0)
    dm.setup("fit")
    pairs = dm.train_set.pairs
    assert 0 < len(pairs) < 96
    assert all(len(s) <= 5 and len(t) <= 5 for s, t in zip(pairs.src, pairs.tgt, strict=True))


@pytest.mark.parametrize(("units", "cap", "counted"), [("word", 5, "words"), ("bpe", 6, "pieces")])
def test_max_len_counts_words_and_pieces_per_word_scales_it_for_subwords(
        train_cfg: Compose, units: str, cap: int, counted: str) -> None:
    """data.max_len counts words; with subword units a pair may have round(max_len *
    data.pieces_per_word) pieces per side (5 * 1.2 = 6), and the error says which."""
    cfg = train_cfg("data.max_len=5", "data.pieces_per_word=1.2").data
    cfg.units = units  # the prepared words stand in for pieces: only the cap depends on it
    dm = ParallelTextDataModule(cfg, seed=0)
    dm.setup("fit")
    lengths = [max(len(s), len(t)) for s, t in zip(dm.train_set.pairs.src, dm.train_set.pairs.tgt,
                                                  strict=True)]
    assert max(lengths) == cap
    cfg.max_len = 0
    with pytest.raises(ValueError, match=rf"^no training pair within 0 {counted} "
                                         r"\(data.max_len=0\)$"):
        ParallelTextDataModule(cfg, seed=0).setup()


def test_training_pairs_are_views_into_the_mapped_files(train_cfg: Compose) -> None:
    """No copy of the corpus in the training process: the kept pairs index the mapped arrays
    and the batch sampler's lengths come from the offsets."""
    dm = ParallelTextDataModule(train_cfg("data.max_len=5").data, seed=0)
    dm.setup("fit")
    pairs = dm.train_set.pairs
    for side in (pairs.src, pairs.tgt):
        assert isinstance(side.ids, np.memmap) and isinstance(side.offsets, np.memmap)
        assert len(side.index) == len(pairs) and np.shares_memory(side[0], side.ids)
    sampler = dm.train_dataloader().batch_sampler
    assert sampler.lengths.tolist() == [[len(s), len(t)] for s, t in zip(pairs.src, pairs.tgt,
                                                                         strict=True)]


def test_loaders_yield_padded_batches(train_cfg: Compose) -> None:
    dm = ParallelTextDataModule(train_cfg().data, seed=0)
    dm.setup("fit")
    train = dm.train_dataloader()
    assert isinstance(train, ResumableDataLoader) and len(train) == 12  # 96 pairs / 8
    batches = list(train)
    assert all(isinstance(b, Batch) and len(b) <= 8 for b in batches)
    assert sum(len(b) for b in batches) == 96
    dev = list(dm.val_dataloader())
    assert sum(len(b) for b in dev) == 12
    assert all(torch.equal(b.tgt_mask, b.tgt_out != 0) for b in dev)


def test_dev_bleu_subset_uses_tokenized_references(train_cfg: Compose, prepared_dir: Path
                                                   ) -> None:
    dm = ParallelTextDataModule(train_cfg("data.dev_bleu_sentences=4").data, seed=0)
    dm.setup("fit")
    dev = dm.dev_bleu_set()
    lines = (prepared_dir / "dev.fr.tok").read_text().splitlines()
    assert dev.refs == lines[:4] and len(dev.src) == 4


def test_incomplete_prepared_dir_names_the_command(compose_cfg: Compose, tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()  # prepare was killed before writing stats.json
    cfg = compose_cfg(f"data.prepared_dir={tmp_path / 'half'}")
    with pytest.raises(FileNotFoundError, match=r"no stats\.json.*rnnsearch\.prepare data="):
        ParallelTextDataModule(cfg.data, seed=0)
