"""Batching details a resume or a device move relies on: each epoch's pairs per minibatch, the
sampler's state while a resume is pending, one-line errors, and `Batch.to`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnsearch.data.batching import (
    EpochShuffleSampler,
    PaperBatchSampler,
    collate_pairs,
    make_batch_sampler,
)

LENGTHS = np.random.default_rng(3).integers(1, 40, size=(200, 2))  # (n, 2) source, target


def _groups(order: str, epoch: int) -> set[frozenset[int]]:
    """The pairs of each minibatch of `epoch` (as sets: the order within is not compared)."""
    sampler = make_batch_sampler(LENGTHS, 5, 8, 4, order)
    sampler.sampler.set_epoch(epoch)
    return {frozenset(b) for b in sampler.epoch_batches()}


def test_shuffled_order_regroups_the_pairs_every_epoch_groundhog_never() -> None:
    # groundhog: App. B.2's one permutation for the whole run, so every epoch has the same
    # minibatches; shuffled: a new permutation per epoch, so other pairs meet in a minibatch.
    assert _groups("groundhog", 0) == _groups("groundhog", 1) == _groups("groundhog", 4)
    assert len(_groups("shuffled", 0) & _groups("shuffled", 1)) < 5


def test_a_pending_resume_reports_the_state_it_was_given() -> None:
    sampler = make_batch_sampler(LENGTHS, 5, 8, 4, "shuffled")
    state = {"epoch": 2, "position": 7, "world_size": 1}
    sampler.load_state_dict(state)
    assert sampler.state_dict() == state  # saved again before the next pass begins
    batches = list(sampler)
    assert len(batches) == sampler.epoch_length() - 7
    assert sampler.state_dict() == {"epoch": 2, "position": sampler.epoch_length(),
                                    "world_size": 1}


def test_lengths_and_pairs_that_disagree_are_refused_naming_both_counts() -> None:
    with pytest.raises(ValueError, match="^3 lengths for a sampler over 4 pairs$"):
        PaperBatchSampler(EpochShuffleSampler(4, 0), LENGTHS[:3], 2, 1)


def test_batch_to_moves_every_field_to_the_device() -> None:
    batch = collate_pairs([(np.array([4, 5]), np.array([6])), (np.array([7]), np.array([8, 9]))])
    moved = batch.to("meta")  # a device other than the CPU, on any machine
    fields = (moved.src_ids, moved.src_mask, moved.tgt_in, moved.tgt_out, moved.tgt_mask)
    assert all(t.device == torch.device("meta") for t in fields)
    assert [t.shape for t in fields] == [t.shape for t in batch._fields()]


def test_padding_no_sequences_gives_empty_long_and_bool_tensors() -> None:
    from rnnsearch.data.batching import collate_source

    ids, mask = collate_source([])
    assert (ids.shape, mask.shape, ids.dtype, mask.dtype) == ((0, 0), (0, 0), torch.long,
                                                              torch.bool)
