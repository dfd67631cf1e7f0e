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


@pytest.mark.parametrize(("units", "counted"), [("word", "words"), ("bpe", "pieces")])
def test_no_pair_within_max_len_is_one_line_naming_what_it_counts(
        train_cfg: Compose, units: str, counted: str) -> None:
    """The cap counts the tokens the model reads: words, or pieces with subword units."""
    cfg = train_cfg("data.max_len=0").data
    cfg.units = units  # the prepared words stand in: only the message depends on it
    dm = ParallelTextDataModule(cfg, seed=0)
    with pytest.raises(ValueError, match=rf"^no training pair within data.max_len=0 {counted}$"):
        dm.setup()


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
