"""Batch padding/masks and the App. B.2 sampler in both orders: coverage, sorting, determinism,
exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnsearch.data.batching import (
    BATCH_ORDERS,
    PaperBatchSampler,
    ResumableDataLoader,
    collate_pairs,
    make_batch_sampler,
    pair_lengths,
    sorted_batches,
)
from rnnsearch.data.vocab import BOS_ID, EOS_ID, PAD_ID


def _lengths(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(1, 50, size=(n, 2))


def _sampler(n: int = 1000, seed: int = 7, batch_size: int = 8, sort_batches: int = 5,
             rank: int = 0, world_size: int = 1, order: str = "shuffled") -> PaperBatchSampler:
    return make_batch_sampler(_lengths(n), seed, batch_size, sort_batches, order, rank=rank,
                              world_size=world_size)


def test_collate_shifts_target_and_masks_padding() -> None:
    pairs = [(np.array([5, 6, 7]), np.array([8, 9])), (np.array([5]), np.array([8, 9, 10, 11]))]
    batch = collate_pairs(pairs)
    assert batch.src_ids.tolist() == [[5, 6, 7, EOS_ID], [5, EOS_ID, PAD_ID, PAD_ID]]
    assert batch.src_mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert batch.tgt_in.tolist() == [[BOS_ID, 8, 9, PAD_ID, PAD_ID], [BOS_ID, 8, 9, 10, 11]]
    assert batch.tgt_out.tolist() == [[8, 9, EOS_ID, PAD_ID, PAD_ID], [8, 9, 10, 11, EOS_ID]]
    assert batch.tgt_mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert batch.src_mask.dtype == torch.bool and batch.src_ids.dtype == torch.long
    assert batch.n_tokens == 8 and len(batch) == 2


def test_batch_to_and_pin_memory_keep_fields() -> None:
    batch = collate_pairs([(np.array([4, 5]), np.array([6]))])
    moved = batch.to("cpu")
    assert torch.equal(moved.tgt_out, batch.tgt_out) and moved.src_mask.dtype == torch.bool
    if torch.cuda.is_available():
        assert batch.pin_memory().src_ids.is_pinned()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), batch_size=st.integers(1, 17), sort_batches=st.integers(1, 6),
       epoch=st.integers(0, 3), order=st.sampled_from(BATCH_ORDERS))
def test_every_index_once_per_epoch(n: int, batch_size: int, sort_batches: int, epoch: int,
                                    order: str) -> None:
    sampler = _sampler(n, batch_size=batch_size, sort_batches=sort_batches, order=order)
    sampler.sampler.set_epoch(epoch)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(n))
    assert all(1 <= len(b) <= batch_size for b in batches)


def test_batches_within_a_group_are_length_sorted() -> None:
    sampler = _sampler(1000, batch_size=8, sort_batches=5)
    lengths = sampler.lengths
    group = 8 * 5
    batches = list(sampler)
    for g in range(0, len(batches), 5):  # the 5 minibatches cut from one sorted group of 40
        spans = sorted((lengths[b, 1].min(), lengths[b, 1].max()) for b in batches[g: g + 5])
        assert all(hi <= lo2 for (_, hi), (lo2, _) in zip(spans, spans[1:], strict=False))
    # far less padding than random batches of the same size
    rand = np.random.default_rng(0).permutation(1000).reshape(-1, 8)
    pad = np.mean([lengths[b, 1].max() - lengths[b, 1].mean() for b in batches])
    pad_rand = np.mean([lengths[b, 1].max() - lengths[b, 1].mean() for b in rand])
    assert pad < pad_rand / 3 and group == 40


def test_group_order_is_shuffled() -> None:
    sampler = _sampler(1000, batch_size=8, sort_batches=5)
    firsts = [sampler.lengths[b, 1].max() for b in list(sampler)[:5]]
    assert firsts != sorted(firsts) or len(set(firsts)) == 1


def test_same_seed_same_batches_other_seed_or_epoch_differ() -> None:
    a, b, c = _sampler(seed=1), _sampler(seed=1), _sampler(seed=2)
    assert list(a) == list(b)
    assert list(a) != list(c)
    b.sampler.set_epoch(1)
    assert list(a) != list(b)


@pytest.mark.parametrize("order", BATCH_ORDERS)
@pytest.mark.parametrize("consumed", [0, 1, 37, 124, 125])
def test_resume_mid_epoch_gives_the_remaining_batches(consumed: int, order: str) -> None:
    full = _sampler(order=order)
    full.sampler.set_epoch(3)
    expected = list(full)
    first = _sampler(order=order)
    first.sampler.set_epoch(3)
    it = iter(first)
    for _ in range(consumed):
        next(it)
    resumed = _sampler(order=order)
    resumed.load_state_dict(first.state_dict())
    assert first.state_dict() == {"epoch": 3, "position": consumed, "world_size": 1}
    assert list(resumed) == expected[consumed:]
    assert list(resumed) == expected  # the skip applies once; the next pass is whole


@pytest.mark.parametrize("order", BATCH_ORDERS)
def test_resume_state_is_ignored_once_the_epoch_moved_on(order: str) -> None:
    sampler = _sampler(order=order)
    sampler.load_state_dict({"epoch": 0, "position": len(sampler)})  # saved at the epoch's end
    sampler.sampler.set_epoch(1)  # Lightning starts the next epoch
    expected = _sampler(order=order)
    expected.sampler.set_epoch(1)
    assert list(sampler) == list(expected)


@pytest.mark.parametrize("order", BATCH_ORDERS)
def test_ddp_ranks_get_disjoint_equal_shards(order: str) -> None:
    """Rank r takes every 3rd minibatch of the one-process order, from the r-th; the < 3 left
    over are dropped so every rank runs the same number of updates."""
    shards = [list(_sampler(1003, rank=r, world_size=3, order=order)) for r in range(3)]
    whole = list(_sampler(1003, world_size=1, order=order))
    n_even = len(whole) - len(whole) % 3
    assert n_even > len(whole) - 3 and len(whole) > 3
    for rank, shard in enumerate(shards):
        assert shard == whole[rank:n_even:3]
        assert len(_sampler(1003, rank=rank, world_size=3, order=order)) == n_even // 3
    seen = [i for s in shards for b in s for i in b]
    assert len(seen) == len(set(seen))


def _consume(sampler: PaperBatchSampler, n: int) -> list[list[int]]:
    it = iter(sampler)
    return [next(it) for _ in range(n)]


@pytest.mark.parametrize(("saved", "resumed"), [(2, 1), (1, 2), (2, 4), (4, 2), (3, 1)])
@pytest.mark.parametrize("order", BATCH_ORDERS)
def test_resume_on_another_world_size_continues_the_global_sequence(saved: int, resumed: int,
                                                                    order: str) -> None:
    """Ranks on W devices that each took p batches consumed the epoch's first p * W minibatches
    (rank r takes r, r + W, ...); W' ranks resumed from them train the rest, each batch once."""
    single = _sampler(order=order)
    single.sampler.set_epoch(2)
    sequence = list(single)  # the one-process order of epoch 2
    per_rank = 12 // saved  # 12 minibatches: divisible by every world size used here
    ranks = [_sampler(rank=r, world_size=saved, order=order) for r in range(saved)]
    trained = []
    for r in ranks:
        r.sampler.set_epoch(2)
        trained += _consume(r, per_rank)
    state = ranks[0].state_dict()
    assert state["world_size"] == saved
    assert sorted(trained) == sorted(sequence[:12])
    n_even = len(sequence) - len(sequence) % resumed  # equal step counts on all ranks
    for r in range(resumed):
        again = _sampler(rank=r, world_size=resumed, order=order)
        again.load_state_dict(state)
        assert list(again) == sequence[12 + r: n_even: resumed]


def test_resume_on_a_world_size_that_cannot_split_the_position_is_refused() -> None:
    ranks = [_sampler(rank=r, world_size=2) for r in range(2)]
    _consume(ranks[0], 3)  # 2 devices x 3 batches: 6 minibatches, not a multiple of 4
    again = _sampler(rank=0, world_size=4)
    with pytest.raises(ValueError, match=r"trained on 2 devices .* 6 minibatches .* 4 devices"):
        again.load_state_dict(ranks[0].state_dict())


@pytest.mark.parametrize(("num_workers", "order"), [(0, "groundhog"), (2, "groundhog"),
                                                     (0, "shuffled")])
def test_dataloader_state_counts_consumed_batches(num_workers: int, order: str) -> None:
    n = 200
    data = [(np.arange(1, 1 + k % 9 + 1), np.arange(1, 1 + k % 7 + 1)) for k in range(n)]
    lengths = pair_lengths([d[0] for d in data], [d[1] for d in data])

    def loader() -> ResumableDataLoader:
        sampler = make_batch_sampler(lengths, 3, 8, 4, order)
        return ResumableDataLoader(data, batch_sampler=sampler, collate_fn=collate_pairs,
                                   num_workers=num_workers)

    expected = [b.src_ids for b in loader()]
    first = loader()
    it = iter(first)
    for _ in range(7):
        next(it)
    state = first.state_dict()  # workers have prefetched further; only 7 were consumed
    assert state == {"epoch": 0, "position": 7, "world_size": 1}
    resumed = loader()
    resumed.load_state_dict(state)
    rest = [b.src_ids for b in resumed]
    assert len(rest) == len(expected) - 7
    assert all(torch.equal(x, y) for x, y in zip(rest, expected[7:], strict=True))


def test_sorted_batches_cover_all_in_length_order() -> None:
    lengths = _lengths(50)
    batches = sorted_batches(lengths, 8)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(50))
    assert list(lengths[flat, 1]) == sorted(lengths[:, 1])


def test_groundhog_order_is_app_b2_as_written() -> None:
    """Shuffled once; groups of 40 consecutive pairs of that one permutation, each sorted by
    max(len_x, len_y) and cut into 5 minibatches yielded shortest first."""
    sampler = _sampler(1000, batch_size=8, sort_batches=5, order="groundhog")
    perm = list(sampler.sampler)
    batches = list(sampler)
    longest = sampler.lengths.max(axis=1)  # (n,) max(len_x, len_y)
    for g in range(0, len(batches), 5):
        group = batches[g: g + 5]
        assert sorted(i for b in group for i in b) == sorted(perm[g * 8: g * 8 + 40])
        keys = [longest[i] for b in group for i in b]
        assert keys == sorted(keys)  # ascending through the whole group, across its batches
    sampler.sampler.set_epoch(2)  # "shuffled once before training": every epoch is the same
    assert list(sampler.sampler) == perm and list(sampler) == batches
    assert list(_sampler(order="groundhog", seed=8)) != batches


def test_groundhog_ties_keep_the_permutation_order() -> None:
    lengths = np.array([[3, 5], [5, 1], [2, 2], [5, 5], [4, 1], [1, 5]])
    sampler = make_batch_sampler(lengths, 0, 2, 3, "groundhog")
    perm = list(sampler.sampler)
    flat = [i for b in sampler for i in b]
    want = sorted(perm, key=lambda i: (lengths[i].max(), perm.index(i)))
    assert flat == want
