"""Atomic file output: a half-written file is never mistaken for a finished one.

Every stage writes through these helpers: the data goes to a temporary file in the same
directory, is flushed to disk, and only then renamed over the final name (an atomic rename
on POSIX). A kill mid-write leaves at most a `*.tmp-*` file that no stage reads. A write that
fails (a full disk: ENOSPC) removes the temporary file, keeps the previous good file, and raises
`OutputWriteError`, one line naming the final path.
"""

from __future__ import annotations

import csv
import errno
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class OutputWriteError(OSError):
    """Writing an output failed (e.g. a full disk); the previous file at that path is kept."""


# Failures of the write itself; any other OSError (e.g. a missing input) propagates unchanged.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS}
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


def _write_error(final: Path, err: OSError) -> OutputWriteError:
    """One line naming the file, what failed, and that the previous version is untouched."""
    reason = (err.strerror or os.strerror(err.errno or 0)).splitlines()[0]
    kept = "the previous file is kept" if final.exists() else "no previous file existed"
    todo = "free disk space, then rerun" if err.errno in _DISK_FULL else "fix it, then rerun"
    return OutputWriteError(err.errno, f"could not write {final}: {reason}; {kept}; {todo}")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    Raises:
        OutputWriteError: an OSError while writing, syncing or renaming (ENOSPC, EIO, ...);
            the message names `path`, which still holds its previous content.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
            with open(tmp, "rb+") as fh:  # make the bytes durable before the rename publishes them
                os.fsync(fh.fileno())
            os.chmod(tmp, _default_mode())  # mkstemp creates 0600; the usual umask-based mode
            os.replace(tmp, final)
        except OSError as err:
            if isinstance(err, OutputWriteError) or err.errno not in WRITE_ERRNOS:
                raise
            raise _write_error(final, err) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 `text` to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_lines(path: str | os.PathLike[str], lines: list[str]) -> None:
    """Write one string per line (newline-terminated) atomically."""
    atomic_write_text(path, "".join(f"{line}\n" for line in lines))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as indented, key-sorted JSON atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def rows_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV text of dict rows; columns from `columns` (header even without rows) or the first row."""
    buf = io.StringIO()
    fieldnames = list(columns) if columns is not None else list(rows[0]) if rows else []
    if fieldnames:
        writer = csv.DictWriter(buf, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


@contextmanager
def atomic_gzip(path: str | os.PathLike[str], compresslevel: int = 9
                ) -> Iterator[gzip.GzipFile]:
    """A binary gzip stream published atomically at `path` (as `atomic_path`).

    The gzip header holds no file name and mtime 0, so the same bytes written twice give the
    same file (`gzip.open` would stamp the temporary name and the current time, and every
    rewrite would look like a changed input to DVC).
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                          compresslevel=compresslevel) as out:
        yield out
