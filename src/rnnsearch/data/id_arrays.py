"""Sentences as flat id arrays on disk: one `.npy` of ids plus one of offsets, memory-mapped.

The layout of fairseq's indexed datasets, as plain `.npy` files: `<name>.ids.npy` int32 holds
every sentence's ids concatenated, `<name>.offsets.npy` int64 (n+1 entries) where sentence k is
`ids[offsets[k]:offsets[k+1]]`. Loading maps both files (`np.load(mmap_mode="r")`), so a
training process holds no copy of the corpus and two processes share the page cache. `.npy`
rather than `.npz`: an `.npz` is a zip whose members carry the time they were written, so two
identical runs would give different bytes (and a map needs an uncompressed file anyway).
Not responsible for what the ids mean (`vocab.py`) or for pairing two sides (`parallel_files.py`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, overload

import numpy as np

from rnnsearch.io_utils import atomic_path

ID_DTYPE, OFFSET_DTYPE = np.dtype(np.int32), np.dtype(np.int64)


def ids_path(stem: str | os.PathLike[str]) -> Path:
    """`<stem>.ids.npy`: the flat ids of the sentences named `stem`."""
    return Path(f"{stem}.ids.npy")


def offsets_path(stem: str | os.PathLike[str]) -> Path:
    """`<stem>.offsets.npy`: their n+1 offsets."""
    return Path(f"{stem}.offsets.npy")


def index_dtype(n: int) -> np.dtype:
    """The narrowest of int32/int64 that indexes `n` items (4 bytes a pair where it fits)."""
    return np.dtype(np.int32 if n < 2**31 else np.int64)


def write_npy_header(fh: BinaryIO, dtype: np.dtype, n: int) -> None:
    """The `.npy` (1.0) header of a 1-d array of `n` items: the bytes `np.save` would write."""
    np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(dtype),
                                              "fortran_order": False, "shape": (n,)})


@contextmanager
def npy_writer(path: str | os.PathLike[str], dtype: np.dtype,
               n: int) -> Iterator[Callable[[np.ndarray], None]]:
    """Write a 1-d `.npy` of `n` items in chunks, atomically, never holding it in memory.

    Yields a function that appends a chunk (any integer array, cast to `dtype`). The file
    appears (renamed from a temporary file) only when the block ends cleanly.

    Raises:
        ValueError: if the chunks do not add up to `n` items (no file is written).
    """
    dtype = np.dtype(dtype)
    written = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write_npy_header(fh, dtype, n)

        def write(chunk: np.ndarray) -> None:
            nonlocal written
            fh.write(np.ascontiguousarray(chunk, dtype=dtype).tobytes())
            written += len(chunk)

        yield write
        if written != n:
            raise ValueError(f"{path}: {written} items written, {n} announced")


def load_array(path: Path) -> np.ndarray:
    """A 1-d `.npy`, memory-mapped (read-only); an empty one is read (it cannot be mapped)."""
    arr = np.load(path, mmap_mode="r")
    return np.load(path) if arr.size == 0 else arr


class SentenceIds(Sequence[np.ndarray]):
    """Sentences as views into one flat id array: `ids[offsets[k]:offsets[k+1]]`.

    Args:
        ids: all sentences' ids concatenated (int32; typically memory-mapped).
        offsets: n+1 int64 offsets into `ids`.
        index: the sentences this view exposes, in order (None: all of them); `take` makes one.
    """

    def __init__(self, ids: np.ndarray, offsets: np.ndarray,
                 index: np.ndarray | None = None) -> None:
        self.ids, self.offsets, self.index = ids, offsets, index

    @classmethod
    def from_lists(cls, seqs: Sequence[Sequence[int]]) -> SentenceIds:
        """In-memory sentences from Python sequences (tests, small splits)."""
        lengths = np.fromiter((len(s) for s in seqs), dtype=OFFSET_DTYPE, count=len(seqs))
        offsets = np.zeros(len(seqs) + 1, dtype=OFFSET_DTYPE)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.fromiter((i for s in seqs for i in s), dtype=ID_DTYPE, count=int(offsets[-1]))
        return cls(ids, offsets)

    def save(self, stem: str | os.PathLike[str]) -> None:
        """Write this view's sentences as `<stem>.{ids,offsets}.npy`, each atomically."""
        lengths = self.lengths
        with npy_writer(offsets_path(stem), OFFSET_DTYPE, len(self) + 1) as write:
            write(np.concatenate([[0], np.cumsum(lengths)]))
        with npy_writer(ids_path(stem), ID_DTYPE, int(lengths.sum())) as write:
            if self.index is None:
                write(self.ids)
            else:
                for sent in self:
                    write(sent)

    def check_offsets(self) -> str | None:
        """What is wrong with the offsets (1-d int64 ids and offsets assumed), or None."""
        off = self.offsets
        if len(off) < 1:
            return "no offsets"
        if off[0] != 0 or off[-1] != len(self.ids):
            return f"offsets run from {off[0]} to {off[-1]}, not 0 to {len(self.ids)}"
        step = 1 << 22  # chunks: a full np.diff of a mapped corpus would be a second copy
        for a in range(0, len(off) - 1, step):
            if np.any(np.diff(off[a: a + step + 1]) < 0):
                return "offsets decrease"
        return None

    @property
    def lengths(self) -> np.ndarray:
        """(n,) int32 sentence lengths, from the offsets (no int64 copy of a mapped corpus)."""
        lengths = np.subtract(self.offsets[1:], self.offsets[:-1],
                              out=np.empty(len(self.offsets) - 1, dtype=np.int32),
                              casting="unsafe")
        return lengths if self.index is None else lengths[self.index]

    def take(self, index: np.ndarray) -> SentenceIds:
        """The sentences `index` (positions in this view), sharing the same arrays."""
        index = np.asarray(index, dtype=np.int64)
        index = index if self.index is None else self.index[index]
        return SentenceIds(self.ids, self.offsets, index.astype(index_dtype(len(self.offsets))))

    def __len__(self) -> int:
        return len(self.offsets) - 1 if self.index is None else len(self.index)

    @overload
    def __getitem__(self, k: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, k: slice) -> list[np.ndarray]: ...

    def __getitem__(self, k: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if not -len(self) <= k < len(self):
            raise IndexError(f"sentence {k} of {len(self)}")
        k = int(k) % len(self)
        j = k if self.index is None else int(self.index[k])
        return self.ids[self.offsets[j]: self.offsets[j + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[k] for k in range(len(self)))

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (a spawned DataLoader worker) a mapped view by its file names, not its data."""
        names = [getattr(a, "filename", None) for a in (self.ids, self.offsets)]
        if all(names):
            return {"files": names, "index": self.index}
        return {"ids": np.asarray(self.ids), "offsets": np.asarray(self.offsets),
                "index": self.index}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "files" in state:
            state = {"ids": load_array(Path(state["files"][0])),
                     "offsets": load_array(Path(state["files"][1])), "index": state["index"]}
        self.ids, self.offsets, self.index = state["ids"], state["offsets"], state["index"]
