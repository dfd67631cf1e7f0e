"""Unpack corpus archives safely, once (used by the WMT'14 recipe after `download.py`).

Unpacking (`.tar`, `.tgz`/`.tar.gz`, single-file `.gz`) rejects members that would escape the
target directory: absolute paths, `..` components, links pointing outside, device files. It
extracts into a temporary directory that is renamed when complete, then records the archive's
SHA-256 beside it (`<target>.unpacked.json`); an unpack with a matching record is reused.
No shell is ever involved.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from rnnsearch.data.parallel_files import DataError
from rnnsearch.file_hash import file_sha256
from rnnsearch.io_utils import atomic_write_json

log = logging.getLogger(__name__)
_BLOCK = 1 << 20


def _inside(root: Path, relative: str) -> bool:
    target = (root / relative).resolve()
    return target == root or root in target.parents


def check_member(member: tarfile.TarInfo, root: Path, archive: Path) -> None:
    """Raise DataError if extracting `member` under `root` could write outside it."""
    name = member.name
    parts = PurePosixPath(name).parts
    link_from_dir = str(PurePosixPath(name).parent / member.linkname)  # symlinks are relative
    bad = None
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or ".." in parts:
        bad = "absolute path or '..' component"
    elif not _inside(root, name):
        bad = "path escapes the target directory"
    elif member.issym() and (os.path.isabs(member.linkname) or not _inside(root, link_from_dir)):
        bad = f"symlink to {member.linkname!r} points outside"
    elif member.islnk() and (os.path.isabs(member.linkname) or not _inside(root, member.linkname)):
        bad = f"hard link to {member.linkname!r} points outside"
    elif not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        bad = "device, FIFO or other special file"
    if bad:
        raise DataError(f"{archive}: unsafe archive member {name!r}: {bad}")


def _extract_tar(archive: Path, into: Path) -> int:
    root = into.resolve()
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            check_member(member, root, archive)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: the stdlib check as well
            tar.extractall(into, members=members, filter="data")
        else:  # pragma: no cover - older Pythons rely on check_member alone
            tar.extractall(into, members=members)
        return len(members)


def _unpack_into(archive: Path, tmp: Path) -> int:
    """Extract `archive` into the empty directory `tmp`; returns the number of members."""
    if tarfile.is_tarfile(archive):
        return _extract_tar(archive, tmp)
    if archive.suffix == ".gz":
        with gzip.open(archive, "rb") as src, open(tmp / archive.stem, "wb") as dst:
            shutil.copyfileobj(src, dst, _BLOCK)
        return 1
    raise DataError(f"{archive}: not a tar or gzip archive")


def unpack_record(target: Path) -> Path:
    """Where the completion record of the unpack into `target` is kept."""
    return target.with_name(f"{target.name}.unpacked.json")


def unpack(archive: str | os.PathLike[str], target: str | os.PathLike[str],
           sha256: str | None = None) -> Path:
    """Unpack `archive` into the directory `target`, or reuse a complete earlier unpack of it.

    The unpack goes to a temporary directory renamed to `target` when complete; then
    `<target>.unpacked.json` records the archive's name and SHA-256 (atomically). A `target`
    whose record names the same SHA-256 is reused as it is; any other `target` is replaced.

    Args:
        archive: a `.tar`, `.tgz`/`.tar.gz` or single-file `.gz`.
        target: the directory to unpack into.
        sha256: the archive's SHA-256 when already known (else it is computed).

    Returns:
        `target`.

    Raises:
        DataError: on an unsafe member, or an archive that cannot be read.
    """
    archive, target = Path(archive), Path(target)
    sha256 = sha256 or file_sha256(archive)
    record = unpack_record(target)
    if target.is_dir() and record.is_file():
        done = json.loads(record.read_text(encoding="utf-8"))
        if done.get("sha256") == sha256:
            log.info("%s: already unpacked into %s; reused", archive.name, target)
            return target
    record.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    stale = target.with_name(f".{target.name}.stale")
    try:
        members = _unpack_into(archive, tmp)
        if target.exists():  # an unpack of another archive, or one without a record
            shutil.rmtree(stale, ignore_errors=True)
            os.replace(target, stale)
        os.replace(tmp, target)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"{archive}: cannot unpack ({err})") from None
    finally:
        for leftover in (tmp, stale):
            if leftover.exists():
                shutil.rmtree(leftover)
    atomic_write_json(record, {"archive": archive.name, "sha256": sha256, "members": members})
    return target
