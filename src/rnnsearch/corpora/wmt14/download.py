"""Fetch, verify and unpack corpus archives safely (used by the WMT'14 recipe, `wmt14.py`).

- Downloads stream through `urllib` into a temporary file beside the target and are renamed
  only after the SHA-256 matches the pinned value (or, before one is pinned, the published MD5;
  the byte size too where it is published), so a partial or tampered file never takes
  the final name and nothing is unpacked before it is verified.
- Unpacking (`.tar`, `.tgz`/`.tar.gz`, single-file `.gz`) rejects members that would escape the
  target directory: absolute paths, `..` components, links pointing outside, device files.
  It extracts into a temporary directory that is renamed when complete.
No shell is ever involved.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from rnnsearch.data.parallel_files import DataError
from rnnsearch.io_utils import atomic_write_lines

log = logging.getLogger(__name__)
_BLOCK = 1 << 20


class Pins(NamedTuple):
    """What an archive is checked against: its SHA-256, and the published MD5 and byte size."""

    sha256: str | None = None
    md5: str | None = None
    size: int | None = None


class Digests(NamedTuple):
    """What a file turned out to be."""

    sha256: str
    md5: str
    size: int


def _digest_stream(read: Callable[[int], bytes], write: Callable[[bytes], object] | None = None
                   ) -> Digests:
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    while block := read(_BLOCK):
        sha.update(block)
        md5.update(block)
        size += len(block)
        if write is not None:
            write(block)
    return Digests(sha.hexdigest(), md5.hexdigest(), size)


def file_digests(path: str | os.PathLike[str]) -> Digests:
    """SHA-256, MD5 and size of a file, read in 1 MiB blocks."""
    with open(path, "rb") as fh:
        return _digest_stream(fh.read)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    return file_digests(path).sha256


def _matches(got: Digests, pins: Pins) -> bool:
    """True when every known pin holds and at least one hash (sha256 or md5) is pinned."""
    checks = [(pins.sha256, got.sha256), (pins.md5, got.md5)]
    hashes_ok = all(want.lower() == have for want, have in checks if want is not None)
    size_ok = pins.size is None or pins.size == got.size
    return hashes_ok and size_ok and (pins.sha256 is not None or pins.md5 is not None)


def _check_pins(name: str, got: Digests, pins: Pins, allow_unpinned: bool) -> None:
    if pins.size is not None and got.size != pins.size:
        raise DataError(f"{name}: size mismatch: expected {pins.size} bytes, got {got.size}")
    if pins.sha256 is not None and got.sha256 != pins.sha256.lower():
        raise DataError(f"{name}: checksum mismatch: expected sha256 {pins.sha256}, "
                        f"got {got.sha256}")
    if pins.md5 is not None and got.md5 != pins.md5.lower():
        raise DataError(f"{name}: checksum mismatch: expected md5 {pins.md5}, got {got.md5}")
    if pins.sha256 is None and pins.md5 is None:
        if not allow_unpinned:
            raise DataError(f"{name}: no sha256 pinned; rerun with data.wmt14.allow_unpinned=true "
                            f"once and copy the logged hash into conf/data/wmt14_en_fr.yaml")
        log.warning("%s: UNPINNED download, sha256=%s (pin it in the config)", name, got.sha256)
    elif pins.sha256 is None:
        log.warning("%s: verified by its published md5; sha256=%s (pin it in the config)",
                    name, got.sha256)


def fetch(url: str, dest: str | os.PathLike[str], sha256: str | None,
          allow_unpinned: bool = False, timeout: float = 60.0, md5: str | None = None,
          size: int | None = None) -> str:
    """Download `url` to `dest` (skipped when `dest` already matches its pins).

    Args:
        url: http(s) URL.
        dest: final file path.
        sha256: pinned hex digest; None needs a published `md5` or `allow_unpinned` (the
            hash is then logged, to be pinned).
        allow_unpinned: accept a download without a pinned hash.
        timeout: socket timeout in seconds.
        md5: the published MD5, checked when given.
        size: the published size in bytes, checked when given.

    Returns:
        The file's SHA-256.

    Raises:
        DataError: on a size or checksum mismatch (the download is deleted) or a missing pin.
        ValueError: for a non-http(s) URL.
    """
    dest, pins = Path(dest), Pins(sha256, md5, size)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"refusing to download {url!r}: only http(s) URLs are allowed")
    if dest.is_file():
        existing = file_digests(dest)
        if _matches(existing, pins):
            return existing.sha256
        log.info("%s exists but does not match the pinned hash; downloading again", dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.part-", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            got = _digest_stream(resp.read, out.write)
        _check_pins(url, got, pins, allow_unpinned)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("downloaded %s -> %s", url, dest)
    return got.sha256


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


def _extract_tar(archive: Path, into: Path) -> None:
    root = into.resolve()
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            check_member(member, root, archive)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: the stdlib check as well
            tar.extractall(into, members=members, filter="data")
        else:  # pragma: no cover - older Pythons rely on check_member alone
            tar.extractall(into, members=members)


def unpack(archive: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Unpack `archive` into the directory `target` (skipped if it already exists).

    Returns:
        `target`.

    Raises:
        DataError: on an unsafe member, or an archive that cannot be read.
    """
    archive, target = Path(archive), Path(target)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        if tarfile.is_tarfile(archive):
            _extract_tar(archive, tmp)
        elif archive.suffix == ".gz":
            with gzip.open(archive, "rb") as src, open(tmp / archive.stem, "wb") as dst:
                shutil.copyfileobj(src, dst, _BLOCK)
        else:
            raise DataError(f"{archive}: not a tar or gzip archive")
        os.replace(tmp, target)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"{archive}: cannot unpack ({err})") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def fetch_any(urls: list[str], dest: Path, pins: Pins, allow_unpinned: bool) -> str:
    """`fetch` from the first of `urls` (a URL and its mirrors) that answers; returns sha256.

    A mirror is tried only when the previous one cannot be reached; a file that fails its
    checks stops at once (DataError).
    """
    for k, url in enumerate(urls):
        try:
            return fetch(url, dest, pins.sha256, allow_unpinned, md5=pins.md5, size=pins.size)
        except (urllib.error.URLError, OSError) as err:
            if k == len(urls) - 1:
                raise DataError(f"{dest.name}: no mirror answered (last: {url}: {err})") from None
            log.warning("%s unreachable (%s); trying %s", url, err, urls[k + 1])
    raise ValueError("no URL given")


def local_copy(path: Path, pins: Pins, allow_unpinned: bool) -> str:
    """Check an already downloaded archive against its pins; returns its sha256."""
    got = file_digests(path)
    _check_pins(str(path), got, pins, allow_unpinned)
    log.info("using the local copy %s", path)
    return got.sha256


def fetch_and_unpack(archives: dict[str, tuple], download_dir: Path,
                     unpack_root: Path, allow_unpinned: bool = False,
                     local_dir: Path | None = None,
                     ) -> tuple[dict[str, Path], dict[str, str]]:
    """`fetch` then `unpack` each archive; record the hashes in `<download_dir>/SHA256SUMS`.

    Args:
        archives: name -> (url, pinned sha256 or None[, published md5 or None, size or None,
            mirror URLs]).
        download_dir: where the downloaded files go (named after the URL's last component).
        unpack_root: each archive is unpacked into `unpack_root/<name>/`.
        allow_unpinned: accept archives without a pinned hash (their hash is logged).
        local_dir: a directory that may already hold the archives under the same names: they
            are checked and read from there instead of downloaded.

    Returns:
        (name -> unpacked directory, name -> sha256).
    """
    roots, hashes, sums = {}, {}, []
    for name, (url, *known) in sorted(archives.items()):
        pins, mirrors = Pins(*known[:3]), list(known[3]) if len(known) > 3 else []
        filename = PurePosixPath(urllib.parse.urlsplit(url).path).name or name
        archive = download_dir / filename
        if local_dir is not None and (local_dir / filename).is_file():
            archive = local_dir / filename
            hashes[name] = local_copy(archive, pins, allow_unpinned)
        else:
            hashes[name] = fetch_any([url, *mirrors], archive, pins, allow_unpinned)
        roots[name] = unpack(archive, unpack_root / name)
        sums.append(f"{hashes[name]}  {filename}")
    download_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_lines(download_dir / "SHA256SUMS", sums)
    return roots, hashes
