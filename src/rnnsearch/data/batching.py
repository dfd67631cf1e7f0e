"""Batches: padding and bool masks (`Batch`, `collate_pairs`) and the paper's length-sorted sampler.

Paper: App. B.2 -- "before every 20-th update, we retrieved 1600 sentence pairs, sorted them
according to the lengths and split them into 20 minibatches. The training data was shuffled once
before training and was traversed sequentially", and the minibatch of 80 pairs of Sec. 4.2.
`data.batch_order` picks one of two readings (`BATCH_ORDERS`):
- `groundhog` (default): App. B.2 as written and as GroundHog's TM_dataset does it: one
  permutation of the training pairs for the whole run (every epoch traverses it in the same
  order); each group of batch_size * sort_batches consecutive pairs is sorted by
  max(len_x, len_y) and its minibatches are yielded shortest first.
- `shuffled` (ours): a new permutation every epoch; each group sorted by target then source
  length, and its minibatches yielded in a random order.

Conventions defined here and used everywhere: `src_mask`/`tgt_mask` are bool, True on real tokens;
the source is x_1..x_Tx followed by EOS (GroundHog appends `</s>` to both sides); the decoder input
is `tgt_in` = [BOS, y_1..y_Ty] and the gold output `tgt_out` = [y_1..y_Ty, EOS].

The sampler is exact on resume, in both orders: `state_dict()` is (epoch, batches consumed per
rank, world size) and the batches of an epoch are a pure function of (seed, epoch, order), so
skipping the consumed ones replays the same data order, also on another number of DDP ranks
(`position_for_world_size`). `ResumableDataLoader` is what Lightning checkpoints (Lightning 2.6
saves the state of every *dataloader* that has `state_dict`/`load_state_dict`; it never looks at
samplers, see `lightning.pytorch.loops.fit_loop._FitLoop.on_save_checkpoint`). Not responsible
for reading prepared files (`parallel_files.py`) or for choosing datasets (`datamodule.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from rnnsearch.data.id_arrays import SentenceIds, index_dtype
from rnnsearch.data.vocab import BOS_ID, EOS_ID, PAD_ID

BATCH_ORDERS = ("groundhog", "shuffled")  # data.batch_order (see the module docstring)


@dataclass(frozen=True)
class Batch:
    """A padded minibatch of sentence pairs.

    Shapes: src_ids (B, S) long; src_mask (B, S) bool; tgt_in, tgt_out (B, T) long;
    tgt_mask (B, T) bool (True where tgt_out is a real token, EOS included).
    """

    src_ids: torch.Tensor
    src_mask: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor
    tgt_mask: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """Move every field (Lightning calls this to transfer the batch)."""
        return Batch(*(t.to(device, non_blocking=non_blocking) for t in self._fields()))

    def pin_memory(self) -> Batch:
        """Page-lock every field (the DataLoader calls this when `pin_memory=True`)."""
        return Batch(*(t.pin_memory() for t in self._fields()))

    def _fields(self) -> tuple[torch.Tensor, ...]:
        return (self.src_ids, self.src_mask, self.tgt_in, self.tgt_out, self.tgt_mask)

    @property
    def n_tokens(self) -> int:
        """Number of real target tokens (the loss normaliser)."""
        return int(self.tgt_mask.sum())

    def __len__(self) -> int:
        return self.src_ids.size(0)


def pad_sequences(seqs: Sequence[Sequence[int]], suffix: Sequence[int] = (),
                  prefix: Sequence[int] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad `prefix + seq + suffix` for every sequence with PAD_ID.

    Returns:
        (ids (B, L) long, mask (B, L) bool True on real tokens), L the longest padded length.
    """
    lengths = [len(prefix) + len(s) + len(suffix) for s in seqs]
    ids = torch.full((len(seqs), max(lengths, default=0)), PAD_ID, dtype=torch.long)
    for k, seq in enumerate(seqs):
        row = [*prefix, *(int(i) for i in seq), *suffix]
        ids[k, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    mask = torch.arange(ids.size(1))[None, :] < torch.as_tensor(lengths)[:, None]  # (B, L)
    return ids, mask


def collate_source(srcs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Source side exactly as in training: x_1..x_Tx EOS, padded. Returns (src_ids, src_mask)."""
    return pad_sequences(srcs, suffix=(EOS_ID,))


def collate_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> Batch:
    """Pad a list of (source ids, target ids) pairs (no BOS/EOS yet) into a `Batch`."""
    src_ids, src_mask = collate_source([p[0] for p in pairs])  # (B, S)
    tgts = [p[1] for p in pairs]
    tgt_in, _ = pad_sequences(tgts, prefix=(BOS_ID,))  # (B, T): BOS y_1 .. y_Ty
    tgt_out, tgt_mask = pad_sequences(tgts, suffix=(EOS_ID,))  # (B, T): y_1 .. y_Ty EOS
    return Batch(src_ids, src_mask, tgt_in, tgt_out, tgt_mask)


def pair_lengths(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray]) -> np.ndarray:
    """(n, 2) int32 array of (source length, target length) per pair; from the offsets when
    both sides are `SentenceIds` (no pass over the sentences). int32: 8 bytes a pair for the
    whole run (the sort keys do not depend on the integer width)."""
    if isinstance(src, SentenceIds) and isinstance(tgt, SentenceIds):
        if len(src) != len(tgt):
            raise ValueError(f"{len(src)} source but {len(tgt)} target sentences")
        return np.stack([src.lengths, tgt.lengths], axis=1)  # (n, 2) int32
    return np.array([[len(s), len(t)] for s, t in zip(src, tgt, strict=True)],
                    dtype=np.int32).reshape(-1, 2)


def _length_order(lengths: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """`idx` sorted by target length, then source length (stable, so ties keep their order)."""
    sub = lengths[idx]
    return idx[np.lexsort((sub[:, 0], sub[:, 1]))]


def _max_length_order(lengths: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """`idx` sorted by max(source length, target length), GroundHog's key (stable for ties)."""
    return idx[np.argsort(lengths[idx].max(axis=1), kind="stable")]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[list[int]]:
    """Deterministic length-sorted batches over all pairs (dev/test: minimal padding)."""
    order = _length_order(lengths, np.arange(len(lengths)))
    return [order[i: i + batch_size].tolist() for i in range(0, len(order), batch_size)]


class EpochShuffleSampler(Sampler[int]):
    """A permutation of range(n): a pure function of (seed, epoch), or of seed alone.

    Lightning calls `set_epoch` on `dataloader.batch_sampler.sampler` before each epoch, as it
    does for a DistributedSampler; outside Lightning call it yourself or every epoch repeats.

    Args:
        n: number of pairs.
        seed: the data-order seed.
        reshuffle: True: a new permutation every epoch; False: App. B.2's "shuffled once before
            training", the same permutation in every epoch (the epoch is still tracked for resume).
    """

    def __init__(self, n: int, seed: int, reshuffle: bool = True) -> None:
        self.n, self.seed, self.epoch, self.reshuffle = n, seed, 0, reshuffle

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of `epoch`."""
        self.epoch = epoch

    def permutation(self) -> np.ndarray:
        """(n,) int: the pair order of the current epoch (int32 where it fits: the same
        permutation as `rng.permutation(n)`, in half the memory)."""
        rng = np.random.default_rng([self.seed, self.epoch] if self.reshuffle else [self.seed])
        return rng.permutation(np.arange(self.n, dtype=index_dtype(self.n)))

    def __iter__(self) -> Iterator[int]:
        return iter(self.permutation().tolist())

    def __len__(self) -> int:
        return self.n


class PaperBatchSampler(Sampler[list[int]]):
    """App. B.2 batching: groups of batch_size * sort_batches pairs, sorted and split.

    Args:
        sampler: the epoch's shuffled pair order (`EpochShuffleSampler`; for `order="groundhog"`
            build it with reshuffle=False, see `make_batch_sampler`).
        lengths: (n, 2) source/target lengths from `pair_lengths`.
        batch_size: pairs per minibatch (80).
        sort_batches: minibatches per sorted group (20, so 1600 pairs are sorted together).
        rank: this process's rank under DDP; it takes every world_size-th minibatch.
        world_size: number of DDP processes (1 without DDP).
        order: "groundhog" (each group sorted by max(len_x, len_y), minibatches shortest first)
            or "shuffled" (sorted by target then source length, minibatches in random order).
    """

    def __init__(self, sampler: EpochShuffleSampler, lengths: np.ndarray, batch_size: int,
                 sort_batches: int, rank: int = 0, world_size: int = 1,
                 order: str = "groundhog") -> None:
        if len(lengths) != len(sampler):
            raise ValueError(f"{len(lengths)} lengths for a sampler over {len(sampler)} pairs")
        self.sampler, self.lengths, self.order = sampler, lengths, order
        self.batch_size, self.sort_batches = batch_size, sort_batches
        self.rank, self.world_size = rank, world_size
        self.start = 0  # batches skipped at the start of the current pass (resume)
        self.position = 0  # batches handed out in the current pass, skipped ones included
        self._resume: tuple[int, int] | None = None  # (epoch, batches to skip) from a checkpoint

    @property
    def epoch(self) -> int:
        """The epoch whose batches `__iter__` yields."""
        return self.sampler.epoch

    def epoch_plan(self) -> tuple[np.ndarray, np.ndarray]:
        """The current epoch's minibatches for this rank, in training order, as arrays.

        Returns:
            (order (n,) int: the pair indices, each group sorted; bounds (b, 2) int64: the
            [start, end) of each of this rank's minibatches in `order`). Arrays rather than a
            list per minibatch: a paper-scale epoch would be millions of Python ints.
        """
        perm = self.sampler.permutation()
        rng = np.random.default_rng([self.sampler.seed, self.epoch, 1])
        group = self.batch_size * self.sort_batches
        order = np.empty_like(perm)
        bounds: list[np.ndarray] = []
        for start in range(0, len(perm), group):  # sequential traversal of the permutation
            idx = perm[start: start + group]
            if self.order == "groundhog":  # shortest first, as GroundHog yields them
                order[start: start + len(idx)] = _max_length_order(self.lengths, idx)
            else:
                order[start: start + len(idx)] = _length_order(self.lengths, idx)
            starts = np.arange(start, start + len(idx), self.batch_size)
            chunk = np.stack([starts, np.minimum(starts + self.batch_size, start + len(idx))],
                             axis=1)  # (batches in the group, 2)
            if self.order == "shuffled":
                chunk = chunk[rng.permutation(len(chunk))]
            bounds.append(chunk)
        every = np.concatenate(bounds) if bounds else np.zeros((0, 2), dtype=np.int64)
        n_even = len(every) - len(every) % self.world_size  # equal step counts on all ranks
        return order, every[self.rank: n_even: self.world_size]

    def epoch_batches(self) -> list[list[int]]:
        """All minibatches of the current epoch for this rank, in training order."""
        order, bounds = self.epoch_plan()
        return [order[a:b].tolist() for a, b in bounds]

    def __iter__(self) -> Iterator[list[int]]:
        order, bounds = self.epoch_plan()
        self.start = 0
        if self._resume is not None and self._resume[0] == self.epoch:
            self.start = self._resume[1]
        self._resume = None
        self.position = self.start
        for a, b in bounds[self.start:]:
            self.position += 1
            yield order[a:b].tolist()

    def epoch_length(self) -> int:
        """Minibatches per epoch over all ranks (before the cut to a multiple of world_size)."""
        n_groups, rest = divmod(len(self.sampler), self.batch_size * self.sort_batches)
        return n_groups * self.sort_batches + -(-rest // self.batch_size)

    def __len__(self) -> int:
        return self.epoch_length() // self.world_size

    def state_dict(self) -> dict[str, int]:
        """(epoch, batches handed out so far in it per rank, world size); a pending resume
        reports its own position."""
        if self._resume is not None:
            return {"epoch": self._resume[0], "position": self._resume[1],
                    "world_size": self.world_size}
        return {"epoch": self.epoch, "position": self.position, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume: the next pass over `state["epoch"]` skips the minibatches it consumed.

        The position is counted per rank; one saved under another `world_size` is converted
        (`position_for_world_size`). A state without `world_size` is taken as this one's.

        Raises:
            ValueError: the consumed minibatches cannot be split evenly over this world size.
        """
        saved_world = int(state.get("world_size", self.world_size))
        position = position_for_world_size(int(state["position"]), saved_world,
                                           self.world_size, self.epoch_length())
        self.sampler.set_epoch(int(state["epoch"]))
        self._resume = (int(state["epoch"]), position)


def position_for_world_size(position: int, saved_world: int, world: int, n_batches: int) -> int:
    """A per-rank data position saved on `saved_world` ranks, as a position on `world` ranks.

    Rank r trains minibatches r, r + W, r + 2W, ... of the epoch's `n_batches`, so `position`
    batches per rank on W ranks are the epoch's first `position * W` minibatches; on W' ranks
    that is `position * W / W'` per rank, which must be whole. A completed epoch stays complete.

    Raises:
        ValueError: naming both device counts, when `position * W` is no multiple of W'.
    """
    if saved_world == world:
        return position
    if position >= n_batches // saved_world:  # the saved epoch was complete
        return n_batches // world
    consumed = position * saved_world  # the epoch's minibatches 0 .. consumed - 1
    if consumed % world:
        raise ValueError(
            f"the checkpoint was trained on {saved_world} devices and stopped after {consumed} "
            f"minibatches of its epoch, which {world} devices cannot split evenly; resume with "
            f"trainer.devices={saved_world} or a device count that divides {consumed}")
    return consumed // world


def make_batch_sampler(lengths: np.ndarray, seed: int, batch_size: int, sort_batches: int,
                       order: str = "groundhog", rank: int = 0,
                       world_size: int = 1) -> PaperBatchSampler:
    """The training batch sampler of `data.batch_order` over pairs with these (n, 2) lengths."""
    shuffle = EpochShuffleSampler(len(lengths), seed, reshuffle=order != "groundhog")
    return PaperBatchSampler(shuffle, lengths, batch_size, sort_batches, rank=rank,
                             world_size=world_size, order=order)


class ResumableDataLoader(DataLoader):
    """A DataLoader over a `PaperBatchSampler` whose data order Lightning checkpoints.

    It counts the batches *it* has returned rather than trusting the sampler's position, because
    worker processes pull indices ahead of training (prefetch). Lightning does not prefetch
    sized loaders, so the count equals the number of batches trained on.
    """

    def __iter__(self) -> Iterator[Any]:  # a generator: nothing starts until the first batch
        sampler: PaperBatchSampler = self.batch_sampler  # type: ignore[assignment]
        for k, batch in enumerate(super().__iter__()):
            # By the first batch the sampler has applied its resume skip (`start`).
            self._progress = {"epoch": sampler.epoch, "position": sampler.start + k + 1,
                              "world_size": sampler.world_size}
            yield batch

    def state_dict(self) -> dict[str, int]:
        """(epoch, batches consumed in it per rank, world size), saved in every checkpoint."""
        progress = getattr(self, "_progress", None)
        return dict(progress) if progress else self.batch_sampler.state_dict()  # type: ignore

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore the position; the next iteration continues the same epoch's batches."""
        self._progress = None
        self.batch_sampler.load_state_dict(state)  # type: ignore[union-attr]
