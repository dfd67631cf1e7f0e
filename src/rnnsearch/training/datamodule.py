"""ParallelTextDataModule: the prepared artefacts as Lightning dataloaders.

Paper: Sec. 4.2 (training pairs of up to 30 / 50 words, minibatches of 80) and App. B.2 (the
sorted-group batching, in `batching.PaperBatchSampler`, order `data.batch_order`). Loads only
what `rnnsearch.prepare` wrote (vocabularies, id arrays, tokenized dev text); it never
tokenises. The id arrays are memory-mapped, so the training process holds only index and
length arrays (two processes training on one corpus share its pages). Not responsible for the
loss or for decoding (`lit_module.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from rnnsearch.data.batching import (
    ResumableDataLoader,
    collate_pairs,
    make_batch_sampler,
    pair_lengths,
    sorted_batches,
)
from rnnsearch.data.guards import read_prepared_stats
from rnnsearch.data.id_arrays import SentenceIds
from rnnsearch.data.parallel_files import ParallelIds, load_split, read_lines
from rnnsearch.data.subwords import BPE
from rnnsearch.data.vocab import Vocabulary

log = logging.getLogger(__name__)


class PairDataset(Dataset):
    """Index -> (source ids, target ids) over a `ParallelIds` (views into mapped files)."""

    def __init__(self, pairs: ParallelIds) -> None:
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.pairs.src[i], self.pairs.tgt[i]


@dataclass(frozen=True)
class DevBleuSet:
    """The fixed dev subset scored with greedy decoding during training.

    Attributes:
        src: source ids per sentence (no BOS/EOS).
        refs: tokenized reference per sentence (the `.tok` text, so unknown words stay wrong).
        src_vocab: source vocabulary (to print samples).
        tgt_vocab: target vocabulary (to turn hypotheses into text).
        units: `data.units`: with `bpe` a hypothesis's pieces are joined into words
            (`subwords.to_words`) before they are scored against the word references.
    """

    src: list[np.ndarray]
    refs: list[str]
    src_vocab: Vocabulary
    tgt_vocab: Vocabulary
    units: str = "word"


def training_length_cap(data_cfg: Any) -> tuple[int, str]:
    """The longest training pair, per side, in the tokens the model reads, and their name.

    `data.max_len` counts words (Sec. 4.2: "sentences of length up to 30 words"); with subword
    units (`data.units: bpe`, ours) a pair may have round(max_len * data.pieces_per_word)
    pieces per side, about max_len words (1.0: the cap counts pieces).
    """
    if data_cfg.units != BPE:
        return int(data_cfg.max_len), "words"
    return round(data_cfg.max_len * data_cfg.pieces_per_word), "pieces"


def filter_by_length(pairs: ParallelIds, max_len: int) -> ParallelIds:
    """Keep the pairs whose source and target both have at most `max_len` words (Sec. 4.2).

    Mapped sides (`SentenceIds`, what `load_split` gives) stay mapped: the result only indexes
    them, its lengths come from the offsets.
    """
    lengths = pair_lengths(pairs.src, pairs.tgt)  # (n, 2)
    keep = np.flatnonzero(np.all((lengths > 0) & (lengths <= max_len), axis=1))
    if isinstance(pairs.src, SentenceIds) and isinstance(pairs.tgt, SentenceIds):
        return ParallelIds(src=pairs.src.take(keep), tgt=pairs.tgt.take(keep))
    return ParallelIds(src=[pairs.src[i] for i in keep], tgt=[pairs.tgt[i] for i in keep])


def shard_batches(batches: list[list[int]], rank: int, world: int,
                  limit: int | float | None = None) -> list[list[int]]:
    """Rank `rank`'s share of the dev batches: batches[rank::world], after an integer
    `trainer.limit_val_batches` has cut the list to the batches one process would validate
    (Lightning then applies that limit to each share, which is already within it; a fraction
    applies to each share).

    Raises:
        ValueError: fewer batches than ranks (a rank without a batch would skip validation and
            leave the others waiting in the gather).
    """
    if isinstance(limit, int):
        batches = batches[:limit]
    if batches and len(batches) < world:
        raise ValueError(f"the dev set gives {len(batches)} batches of data.batch_size (within "
                         f"trainer.limit_val_batches), fewer than trainer.devices={world} ranks; "
                         "use a larger dev set or limit, or fewer devices")
    return batches[rank::world]


def check_prepared(prepared_dir: Path, data_name: str) -> None:
    """Raise one line naming the command unless `prepare` finished (it writes stats.json last)."""
    read_prepared_stats(prepared_dir, data_name)


class ParallelTextDataModule(L.LightningDataModule):
    """Train / dev dataloaders over `cfg.data.prepared_dir`.

    Args:
        data_cfg: a `DataConfig` (prepared_dir, max_len, batch_size, sort_batches, workers, ...).
        seed: seeds the training data order (the same seed gives the same batches).

    Raises:
        FileNotFoundError: if the prepared directory is missing or incomplete.
    """

    def __init__(self, data_cfg: Any, seed: int) -> None:
        super().__init__()
        self.cfg, self.seed = data_cfg, seed
        self.prepared_dir = Path(data_cfg.prepared_dir)
        check_prepared(self.prepared_dir, data_cfg.name)
        self.src_vocab = Vocabulary.load(self.prepared_dir / f"vocab.{data_cfg.src_lang}.txt")
        self.tgt_vocab = Vocabulary.load(self.prepared_dir / f"vocab.{data_cfg.tgt_lang}.txt")
        self.train_set: PairDataset | None = None
        self.dev_set: PairDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        """Load (once) the length-filtered training pairs and the dev pairs."""
        if self.train_set is not None:
            return
        train = load_split(self.prepared_dir, "train")
        cap, unit = training_length_cap(self.cfg)
        kept = filter_by_length(train, cap)
        if len(kept) == 0:
            raise ValueError(f"no training pair within {cap} {unit} (data.max_len="
                             f"{self.cfg.max_len})")
        self.train_set = PairDataset(kept)
        self.dev_set = PairDataset(load_split(self.prepared_dir, "dev"))
        log.info("train pairs: %d of %d within %d %s; dev pairs: %d", len(kept), len(train),
                 cap, unit, len(self.dev_set))

    def _loader_kwargs(self) -> dict[str, Any]:
        workers = int(self.cfg.num_workers)
        return dict(
            collate_fn=collate_pairs, num_workers=workers, persistent_workers=workers > 0,
            pin_memory=bool(self.cfg.pin_memory) and torch.cuda.is_available(),
        )

    def _rank_world(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def train_dataloader(self) -> ResumableDataLoader:
        """App. B.2 batches in `data.batch_order`, seeded and resumable; sharded under DDP."""
        assert self.train_set is not None, "call setup() first"
        rank, world = self._rank_world()
        pairs = self.train_set.pairs
        sampler = make_batch_sampler(
            pair_lengths(pairs.src, pairs.tgt), self.seed, self.cfg.batch_size,
            self.cfg.sort_batches, self.cfg.batch_order, rank=rank, world_size=world,
        )
        return ResumableDataLoader(self.train_set, batch_sampler=sampler, **self._loader_kwargs())

    def val_dataloader(self) -> DataLoader:
        """All dev pairs in length-sorted batches (dev NLL / perplexity); under DDP each rank
        takes every world-th of them (`shard_batches`), so the ranks' NLL sums add up to the
        one-process value."""
        assert self.dev_set is not None, "call setup() first"
        pairs = self.dev_set.pairs
        batches = sorted_batches(pair_lengths(pairs.src, pairs.tgt), self.cfg.batch_size)
        rank, world = self._rank_world()
        if world > 1:
            batches = shard_batches(batches, rank, world, self.trainer.limit_val_batches)
        return DataLoader(self.dev_set, batch_sampler=batches, **self._loader_kwargs())

    def dev_bleu_set(self) -> DevBleuSet:
        """The first `data.dev_bleu_sentences` dev pairs with their tokenized references."""
        assert self.dev_set is not None, "call setup() first"
        pairs = self.dev_set.pairs
        n = min(int(self.cfg.dev_bleu_sentences), len(pairs))
        tok_path = self.prepared_dir / f"dev.{self.cfg.tgt_lang}.tok"
        refs = read_lines(tok_path) if tok_path.is_file() else []
        if len(refs) != len(pairs):  # no aligned text: fall back to the (UNK-ed) id references
            log.warning("%s missing or not aligned with the dev ids; BLEU references from ids",
                        tok_path)
            refs = [" ".join(self.tgt_vocab.decode(t)) for t in pairs.tgt]
        return DevBleuSet(pairs.src[:n], refs[:n], self.src_vocab, self.tgt_vocab,
                          self.cfg.get("units", "word"))
