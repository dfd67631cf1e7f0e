"""Parallel corpora on disk: reading raw line-aligned text and loading prepared id arrays.

Paper: Sec. 4.1 (the data). Raw text is read here with strict checks (equal line counts, valid
UTF-8); the prepared artefacts (`<split>.npz`, written by `rnnsearch.prepare`) are loaded here
into `ParallelIds`. Not responsible for tokenisation or vocabularies (`prepare.py`, `vocab.py`)
nor for batching (`batching.py`).

Prepared split layout (`<prepared_dir>/<split>.npz`): `src` int32 (all sentences' ids
concatenated), `src_offsets` int64 (n+1; sentence k is `src[off[k]:off[k+1]]`), and the same
for `tgt`. Ids carry no BOS/EOS.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np

from rnnsearch.io_utils import atomic_path

SPLITS: tuple[str, ...] = ("train", "dev", "test")
BOM = "\ufeff"  # U+FEFF at the start of a file: a byte-order mark, dropped on reading


class DataError(ValueError):
    """Bad input data; the message is one line naming the file (and line where it applies)."""


@dataclass(frozen=True)
class ParallelIds:
    """Sentence pairs as id arrays, without BOS/EOS.

    Attributes:
        src: one int32 array per source sentence.
        tgt: one int32 array per target sentence, aligned with `src`.
    """

    src: list[np.ndarray]
    tgt: list[np.ndarray]

    def __post_init__(self) -> None:
        if len(self.src) != len(self.tgt):
            raise ValueError(f"src has {len(self.src)} sentences but tgt has {len(self.tgt)}")

    def __len__(self) -> int:
        return len(self.src)


def _prepare_hint(prepared_dir: Path) -> str:
    return f"run `python -m rnnsearch.prepare data={prepared_dir.name}` to create it"


def pack(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate id sequences into (flat int32 ids, int64 offsets of length n+1)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((i for s in seqs for i in s), dtype=np.int32, count=int(offsets[-1]))
    return flat, offsets


def unpack(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Split a flat id array at `offsets` (inverse of `pack`)."""
    return np.split(flat, offsets[1:-1]) if len(offsets) > 1 else []


def save_split(path: str | os.PathLike[str], src: Sequence[Sequence[int]],
               tgt: Sequence[Sequence[int]]) -> None:
    """Write one prepared split as `.npz` atomically (layout in the module docstring)."""
    src_flat, src_off = pack(src)
    tgt_flat, tgt_off = pack(tgt)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, src=src_flat, src_offsets=src_off, tgt=tgt_flat, tgt_offsets=tgt_off)


def _check_offsets(path: Path, flat: np.ndarray, offsets: np.ndarray, side: str) -> None:
    ok = (offsets.ndim == 1 and len(offsets) >= 1 and offsets[0] == 0
          and offsets[-1] == len(flat) and bool(np.all(np.diff(offsets) >= 0)))
    if not ok:
        raise DataError(f"{path}: inconsistent {side}_offsets; re-run rnnsearch.prepare")


def load_split(prepared_dir: str | os.PathLike[str], split: str) -> ParallelIds:
    """Load one prepared split (`train`, `dev` or `test`).

    Args:
        prepared_dir: `cfg.data.prepared_dir`, written by `python -m rnnsearch.prepare`.
        split: split name.

    Returns:
        The sentence pairs as int32 id arrays (no BOS/EOS).

    Raises:
        FileNotFoundError: if the directory or the split file is missing (names the command).
        DataError: if the file is corrupt or its offsets are inconsistent.
    """
    prepared_dir = Path(prepared_dir)
    path = prepared_dir / f"{split}.npz"
    if not prepared_dir.is_dir():
        raise FileNotFoundError(f"prepared data directory {prepared_dir} not found; "
                                f"{_prepare_hint(prepared_dir)}")
    if not path.is_file():
        raise FileNotFoundError(f"prepared split {path} not found; {_prepare_hint(prepared_dir)}")
    try:
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in ("src", "src_offsets", "tgt", "tgt_offsets")}
    except (KeyError, ValueError, OSError, zlib.error, EOFError) as err:
        raise DataError(f"{path}: unreadable prepared split ({err}); re-run rnnsearch.prepare") \
            from None
    for side in ("src", "tgt"):
        _check_offsets(path, arrays[side], arrays[f"{side}_offsets"], side)
    if len(arrays["src_offsets"]) != len(arrays["tgt_offsets"]):
        raise DataError(f"{path}: src and tgt hold different numbers of sentences")
    src = unpack(arrays["src"].astype(np.int32, copy=False), arrays["src_offsets"])
    tgt = unpack(arrays["tgt"].astype(np.int32, copy=False), arrays["tgt_offsets"])
    return ParallelIds(src=src, tgt=tgt)


def _open_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"corpus file {path} not found")
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{path}: corrupt gzip file ({err})") from None
    return data


def decode_utf8(data: bytes, path: str | os.PathLike[str]) -> str:
    """Decode UTF-8 bytes, raising a one-line DataError with the failing line number.

    A byte-order mark at the start (`BOM`, written by some Windows editors) is dropped: it is
    not text, and left in it would become a token of the first sentence.
    """
    try:
        return data.decode("utf-8").removeprefix(BOM)
    except UnicodeDecodeError as err:
        line_no = data[: err.start].count(b"\n") + 1
        raise DataError(f"{path}:{line_no}: invalid UTF-8 (byte offset {err.start})") from None


def split_lines(text: str) -> list[str]:
    """Split on newlines only (not on the Unicode separators `str.splitlines` also honours)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """Read a UTF-8 text file (plain or `.gz`) as a list of lines without newlines.

    Raises:
        FileNotFoundError: if the file is missing.
        DataError: on invalid UTF-8 (names the line) or a corrupt gzip stream.
    """
    path = Path(path)
    return split_lines(decode_utf8(_open_bytes(path), path))


def read_parallel(src_path: str | os.PathLike[str],
                  tgt_path: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """Read two line-aligned files (plain or `.gz`), checking that the line counts agree.

    Raises:
        DataError: if the line counts differ or a file is not valid UTF-8.
    """
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        n = min(len(src), len(tgt)) + 1
        raise DataError(f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)} "
                        f"(first unmatched line {n})")
    return src, tgt


def iter_lines(path: str | os.PathLike[str]) -> Iterator[str]:
    """Stream the lines of a UTF-8 file (plain or `.gz`) without newlines, for large corpora.

    Raises:
        FileNotFoundError: if the file is missing.
        DataError: on invalid UTF-8 (names the line) or a corrupt gzip stream.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file {path} not found")
    opener = gzip.open if path.suffix == ".gz" else open
    line_no = 0
    try:
        with opener(path, "rb") as fh:
            for line_no, raw in enumerate(fh, start=1):  # noqa: B007 - used in the error
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise DataError(f"{path}:{line_no}: invalid UTF-8 (column {err.start + 1})") \
                        from None
                if line_no == 1:
                    text = text.removeprefix(BOM)  # see decode_utf8
                yield text[:-1].removesuffix("\r") if text.endswith("\n") else text
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}:{line_no + 1}: unreadable ({err})") from None


def iter_parallel(src_path: str | os.PathLike[str],
                  tgt_path: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    """Stream line pairs of two aligned files; DataError at the first line one file lacks."""
    pairs = zip_longest(iter_lines(src_path), iter_lines(tgt_path))
    for line_no, (src, tgt) in enumerate(pairs, start=1):
        if src is None or tgt is None:
            short = src_path if src is None else tgt_path
            raise DataError(f"{short} ends at line {line_no - 1} but {src_path} and {tgt_path} "
                            f"must have the same number of lines")
        yield src, tgt
