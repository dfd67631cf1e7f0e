"""Parallel corpora on disk: reading raw line-aligned text and loading prepared id arrays.

Paper: Sec. 4.1 (the data). Raw text is read here with strict checks (equal line counts, valid
UTF-8, or for bulk training text U+FFFD in place of invalid bytes, counted: `InvalidUtf8`),
streamed line by line (a gzip file is never decompressed whole); the prepared splits (written
by `rnnsearch.prepare`) are loaded here into `ParallelIds`. Not responsible for tokenisation or
vocabularies (`prepare.py`, `vocab.py`) nor for batching (`batching.py`).

Prepared split layout (`<prepared_dir>/<split>.<side>.{ids,offsets}.npy`, side `src` / `tgt`,
see `id_arrays.py`): `ids` int32 (all sentences' ids concatenated), `offsets` int64 (n+1;
sentence k is `ids[off[k]:off[k+1]]`). Ids carry no BOS/EOS. Loading maps the files.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from rnnsearch.data.id_arrays import (
    ID_DTYPE,
    OFFSET_DTYPE,
    SentenceIds,
    ids_path,
    load_array,
    offsets_path,
)

SPLITS: tuple[str, ...] = ("train", "dev", "test")
SIDES: tuple[str, str] = ("src", "tgt")
BOM = "\ufeff"  # U+FEFF at the start of a file: a byte-order mark, dropped on reading
FIRST_LINES = 5  # line numbers of the first invalid lines that InvalidUtf8 keeps


class DataError(ValueError):
    """Bad input data; the message is one line naming the file (and line where it applies)."""


@dataclass
class InvalidUtf8:
    """Lines of one file whose invalid UTF-8 was replaced by U+FFFD (`data.invalid_utf8`).

    Attributes:
        lines: how many lines had at least one invalid byte sequence.
        first: the line numbers (1-based) of the first `FIRST_LINES` of them.
    """

    lines: int = 0
    first: list[int] = field(default_factory=list)

    def add(self, line_no: int) -> None:
        """Record one more line with invalid bytes."""
        self.lines += 1
        if len(self.first) < FIRST_LINES:
            self.first.append(line_no)


@dataclass(frozen=True)
class ParallelIds:
    """Sentence pairs as id arrays, without BOS/EOS.

    Attributes:
        src: the source sentences (int32 id arrays; a list works as well as a `SentenceIds`).
        tgt: the target sentences, aligned with `src`.
    """

    src: Sequence
    tgt: Sequence

    def __post_init__(self) -> None:
        if len(self.src) != len(self.tgt):
            raise ValueError(f"src has {len(self.src)} sentences but tgt has {len(self.tgt)}")

    def __len__(self) -> int:
        return len(self.src)


def _prepare_hint(prepared_dir: Path) -> str:
    return f"run `python -m rnnsearch.prepare data={prepared_dir.name}` to create it"


def split_stem(prepared_dir: str | os.PathLike[str], split: str, side: str) -> Path:
    """`<prepared_dir>/<split>.<side>`: the stem of one side's `.ids.npy` / `.offsets.npy`."""
    return Path(prepared_dir) / f"{split}.{side}"


def save_split(prepared_dir: str | os.PathLike[str], split: str, src: Sequence[Sequence[int]],
               tgt: Sequence[Sequence[int]]) -> None:
    """Write one prepared split's four `.npy` files, each atomically (layout above)."""
    for side, seqs in zip(SIDES, (src, tgt), strict=True):
        ids = seqs if isinstance(seqs, SentenceIds) else SentenceIds.from_lists(seqs)
        ids.save(split_stem(prepared_dir, split, side))


def _load_side(stem: Path) -> SentenceIds:
    """Map one side's two arrays, checking dtypes and offsets (one-line DataError otherwise)."""
    arrays = []
    for path, dtype in ((ids_path(stem), ID_DTYPE), (offsets_path(stem), OFFSET_DTYPE)):
        if not path.is_file():
            raise FileNotFoundError(f"prepared split {path} not found; "
                                    f"{_prepare_hint(path.parent)}")
        try:
            arr = load_array(path)
        except (ValueError, OSError, EOFError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DataError(f"{path}: unreadable prepared split ({reason}); re-run "
                            "rnnsearch.prepare") from None
        if arr.ndim != 1 or arr.dtype != dtype:
            raise DataError(f"{path}: expected a 1-d {dtype} array, got {arr.ndim}-d "
                            f"{arr.dtype}; re-run rnnsearch.prepare")
        arrays.append(arr)
    ids = SentenceIds(*arrays)
    problem = ids.check_offsets()
    if problem:
        raise DataError(f"{offsets_path(stem)}: {problem}; re-run rnnsearch.prepare")
    return ids


def load_split(prepared_dir: str | os.PathLike[str], split: str) -> ParallelIds:
    """Load (memory-map) one prepared split (`train`, `dev` or `test`).

    Args:
        prepared_dir: `cfg.data.prepared_dir`, written by `python -m rnnsearch.prepare`.
        split: split name.

    Returns:
        The sentence pairs as int32 id arrays (no BOS/EOS), views into the mapped files.

    Raises:
        FileNotFoundError: if the directory or a split file is missing (names the command).
        DataError: if a file is unreadable or its offsets are inconsistent.
    """
    prepared_dir = Path(prepared_dir)
    if not prepared_dir.is_dir():
        raise FileNotFoundError(f"prepared data directory {prepared_dir} not found; "
                                f"{_prepare_hint(prepared_dir)}")
    sides = [_load_side(split_stem(prepared_dir, split, side)) for side in SIDES]
    if len(sides[0]) != len(sides[1]):
        raise DataError(f"{split_stem(prepared_dir, split, 'src')} and .tgt hold different "
                        "numbers of sentences; re-run rnnsearch.prepare")
    return ParallelIds(src=sides[0], tgt=sides[1])


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
    return list(iter_lines(path))


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


def _decode(raw: bytes, path: Path, line_no: int, replaced: InvalidUtf8 | None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        if replaced is None:
            raise DataError(f"{path}:{line_no}: invalid UTF-8 (column {err.start + 1})") \
                from None
    replaced.add(line_no)
    return raw.decode("utf-8", errors="replace")  # each bad sequence becomes U+FFFD


def iter_lines(path: str | os.PathLike[str],
               replaced: InvalidUtf8 | None = None) -> Iterator[str]:
    """Stream the lines of a UTF-8 file (plain or `.gz`) without newlines, for large corpora.

    Args:
        path: the file.
        replaced: None: invalid UTF-8 stops the read (one line naming file and line); else
            each invalid byte sequence becomes U+FFFD and the line is recorded here
            (`data.invalid_utf8: replace`, for bulk training text only).

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
                text = _decode(raw, path, line_no, replaced)
                if line_no == 1:
                    text = text.removeprefix(BOM)  # see decode_utf8
                yield text[:-1].removesuffix("\r") if text.endswith("\n") else text
    except (OSError, EOFError, zlib.error) as err:
        what = "corrupt gzip file" if path.suffix == ".gz" else "unreadable"
        raise DataError(f"{path}:{line_no + 1}: {what} ({err})") from None


def iter_parallel(src_path: str | os.PathLike[str], tgt_path: str | os.PathLike[str],
                  replaced: tuple[InvalidUtf8, InvalidUtf8] | None = None,
                  ) -> Iterator[tuple[str, str]]:
    """Stream line pairs of two aligned files; DataError at the first line one file lacks.

    `replaced`: per file, where invalid UTF-8 is replaced and counted (see `iter_lines`).
    """
    src_bad, tgt_bad = replaced or (None, None)
    pairs = zip_longest(iter_lines(src_path, src_bad), iter_lines(tgt_path, tgt_bad))
    for line_no, (src, tgt) in enumerate(pairs, start=1):
        if src is None or tgt is None:
            short = src_path if src is None else tgt_path
            raise DataError(f"{short} ends at line {line_no - 1} but {src_path} and {tgt_path} "
                            f"must have the same number of lines")
        yield src, tgt
