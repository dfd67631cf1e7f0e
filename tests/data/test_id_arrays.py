"""Flat id arrays on disk: streamed `.npy` writes, mapped sentence views, checks on load."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from rnnsearch.data.id_arrays import SentenceIds, npy_writer
from rnnsearch.data.parallel_files import DataError, load_split, save_split

SENTENCES = [[4, 5, 6], [7], [8, 9], [10, 11, 12, 13]]


def test_streamed_npy_is_what_np_save_writes(tmp_path: Path) -> None:
    data = np.arange(1000, dtype=np.int32)
    with npy_writer(tmp_path / "a.npy", np.int32, len(data)) as write:
        for start in range(0, len(data), 300):
            write(data[start: start + 300].astype(np.int64))  # cast back to int32
    expected = io.BytesIO()
    np.save(expected, data)
    assert (tmp_path / "a.npy").read_bytes() == expected.getvalue()


def test_a_short_stream_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"3 items written, 5 announced"):
        with npy_writer(tmp_path / "a.npy", np.int32, 5) as write:
            write(np.zeros(3, dtype=np.int32))
    assert list(tmp_path.iterdir()) == []


def test_loaded_split_is_mapped_and_indexes_like_a_list(tmp_path: Path) -> None:
    save_split(tmp_path, "dev", SENTENCES, [s[::-1] for s in SENTENCES])
    dev = load_split(tmp_path, "dev")
    assert isinstance(dev.src.ids, np.memmap)
    assert [s.tolist() for s in dev.src] == SENTENCES and dev.src[-1].tolist() == SENTENCES[-1]
    assert [s.tolist() for s in dev.tgt[1:3]] == [[7], [9, 8]]
    assert dev.src.lengths.tolist() == [3, 1, 2, 4]
    sub = dev.src.take(np.array([3, 0, 2])).take(np.array([2, 0]))
    assert [s.tolist() for s in sub] == [[8, 9], [10, 11, 12, 13]]
    assert sub.lengths.tolist() == [2, 4]
    with pytest.raises(IndexError):
        dev.src[4]


def test_a_mapped_view_pickles_by_file_name(tmp_path: Path) -> None:
    """A spawned DataLoader worker reopens the files instead of receiving the corpus."""
    big = [list(range(4, 500))] * 200
    save_split(tmp_path, "train", big, big)
    view = load_split(tmp_path, "train").src.take(np.array([5, 7]))
    blob = pickle.dumps(view)
    assert len(blob) < 2000 < view.ids.nbytes
    again = pickle.loads(blob)
    assert isinstance(again.ids, np.memmap) and [s.tolist() for s in again] == big[:2]
    in_memory = SentenceIds.from_lists(SENTENCES)
    assert [s.tolist() for s in pickle.loads(pickle.dumps(in_memory))] == SENTENCES


def test_bad_arrays_are_one_line_data_errors(tmp_path: Path) -> None:
    save_split(tmp_path, "test", SENTENCES, SENTENCES)
    np.save(tmp_path / "test.tgt.offsets.npy", np.array([0, 3, 2, 6, 10], dtype=np.int64))
    with pytest.raises(DataError, match=r"test\.tgt\.offsets\.npy: offsets decrease"):
        load_split(tmp_path, "test")
    np.save(tmp_path / "test.tgt.offsets.npy", np.array([0, 3, 4, 6, 10], dtype=np.int32))
    with pytest.raises(DataError, match=r"test\.tgt\.offsets\.npy: expected a 1-d int64"):
        load_split(tmp_path, "test")
    save_split(tmp_path, "test", SENTENCES, SENTENCES[:3])
    with pytest.raises(DataError, match=r"different numbers of sentences"):
        load_split(tmp_path, "test")
