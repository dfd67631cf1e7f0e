"""Fetch and verify corpus archives (used by the WMT'14 recipe, `wmt14.py`; `unpack.py` unpacks).

- Downloads stream through `urllib` into a temporary file beside the target and are renamed
  only after every known pin holds: the pinned SHA-256, the published MD5 and byte size, and the
  SHA-256 an earlier run recorded for this corpus (`Pins.recorded`). An archive published with
  only its size (LIUM's bitexts.tgz) is accepted on it; its SHA-256 is recorded then and checked
  on every later run. A partial or tampered file never takes the final name and nothing is
  unpacked before it is verified. A verified file already on disk is not downloaded again.
No shell is ever involved.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from rnnsearch.data.parallel_files import DataError

log = logging.getLogger(__name__)
_BLOCK = 1 << 20
# What an unreachable mirror raises: refused or timed-out connections, HTTP errors (404, ...),
# and a connection dropped mid-body.
UNREACHABLE = (urllib.error.URLError, OSError, http.client.HTTPException)


class Pins(NamedTuple):
    """What an archive is checked against: its SHA-256, the published MD5 and byte size, and
    the SHA-256 recorded when this corpus was first unpacked (None: not known)."""

    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    recorded: str | None = None


class Archive(NamedTuple):
    """One archive to fetch: where from, what it must match, and where those pins live."""

    key: str  # data.wmt14.archives.<key>
    urls: tuple[str, ...]  # the URL, then its mirrors, tried in order
    pins: Pins = Pins()
    config_file: str = ""  # the corpus config holding the pins (named in errors)
    record_file: str = ""  # the corpus record holding `pins.recorded` (named in errors)
    allow_unpinned: bool = False  # accept an archive with no pin at all (its hash is logged)
    local_hint: str = ""  # the command that uses a copy obtained elsewhere (data.wmt14.local_dir)

    @property
    def filename(self) -> str:
        """The file name, from the URL's last path component."""
        return PurePosixPath(urllib.parse.urlsplit(self.urls[0]).path).name or self.key


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




def _pinned(pins: Pins) -> bool:
    return any(pin is not None for pin in pins)


def _matches(got: Digests, pins: Pins) -> bool:
    """True when at least one pin is known and every known pin holds."""
    checks = [(pins.sha256, got.sha256), (pins.md5, got.md5), (pins.recorded, got.sha256)]
    hashes_ok = all(want.lower() == have for want, have in checks if want is not None)
    size_ok = pins.size is None or pins.size == got.size
    return hashes_ok and size_ok and _pinned(pins)


def check_pins(name: str, got: Digests, archive: Archive) -> None:
    """Raise a one-line DataError unless `got` holds every pin of `archive`.

    An archive without any pin passes only with `allow_unpinned` (its SHA-256 is logged).
    """
    pins = archive.pins
    where = f" (data.wmt14.archives.{archive.key} in {archive.config_file})" \
        if archive.config_file else ""
    if pins.size is not None and got.size != pins.size:
        raise DataError(f"{name}: size mismatch: expected {pins.size} bytes, got {got.size}"
                        f"{where}")
    for algo, want, have in (("sha256", pins.sha256, got.sha256), ("md5", pins.md5, got.md5)):
        if want is not None and have != want.lower():
            raise DataError(f"{name}: checksum mismatch: expected {algo} {want}, got {have}"
                            f"{where}")
    if pins.recorded is not None and got.sha256 != pins.recorded:
        raise DataError(
            f"{name}: sha256 {got.sha256} differs from {pins.recorded}, recorded in "
            f"{archive.record_file} when this corpus was unpacked; a different archive: "
            f"delete {Path(archive.record_file).parent} and rerun to start afresh")
    if not _pinned(pins):
        if not archive.allow_unpinned:
            raise DataError(f"{name}: no sha256, md5 or size pinned{where}; rerun with "
                            "data.wmt14.allow_unpinned=true once and pin the logged sha256")
        log.warning("%s: UNPINNED download, sha256=%s (pin it in %s)", name, got.sha256,
                    archive.config_file or "the config")
    elif pins.sha256 is None and pins.recorded is None:
        log.info("%s: verified by its published %s; sha256=%s is recorded%s and checked on "
                 "every later run", name, "md5" if pins.md5 else "byte size", got.sha256,
                 f" in {archive.record_file}" if archive.record_file else "")


def _download(url: str, dest: Path, archive: Archive, timeout: float) -> str:
    """Download `url` to `dest` unless `dest` already holds the pins; returns the sha256."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"refusing to download {url!r}: only http(s) URLs are allowed")
    if dest.is_file():
        existing = file_digests(dest)
        if _matches(existing, archive.pins):
            log.info("%s: already downloaded and verified; not fetched again", dest)
            return existing.sha256
        log.info("%s exists but does not match its pins; downloading again", dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.part-", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            got = _digest_stream(resp.read, out.write)
        check_pins(url, got, archive)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("downloaded %s -> %s", url, dest)
    return got.sha256


def fetch(url: str, dest: str | os.PathLike[str], sha256: str | None,
          allow_unpinned: bool = False, timeout: float = 60.0, md5: str | None = None,
          size: int | None = None) -> str:
    """Download `url` to `dest` (skipped when `dest` already matches its pins).

    Args:
        url: http(s) URL.
        dest: final file path.
        sha256: pinned hex digest; None needs a published `md5` or `size`, or `allow_unpinned`
            (the hash is then logged, to be pinned).
        allow_unpinned: accept a download with no pin at all.
        timeout: socket timeout in seconds.
        md5: the published MD5, checked when given.
        size: the published size in bytes, checked when given.

    Returns:
        The file's SHA-256.

    Raises:
        DataError: on a size or checksum mismatch (the download is deleted) or a missing pin.
        ValueError: for a non-http(s) URL.
    """
    archive = Archive(Path(dest).name, (url,), Pins(sha256, md5, size),
                      allow_unpinned=allow_unpinned)
    return _download(url, Path(dest), archive, timeout)


def _one_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def fetch_any(dest: Path, archive: Archive, timeout: float = 60.0) -> str:
    """Download `archive` from the first of its URLs that answers; returns its sha256.

    A mirror is tried only when the previous one cannot be reached; a file that fails its
    checks stops at once (DataError). When none answers, the DataError says so and names
    `archive.local_hint`, the way to use a copy obtained elsewhere.
    """
    failures = []
    for url in archive.urls:
        try:
            return _download(url, dest, archive, timeout)
        except UNREACHABLE as err:
            failures.append(f"{url}: {_one_line(err)}")
            log.warning("%s unreachable (%s)", url, _one_line(err))
    hint = f"; with a copy obtained elsewhere: {archive.local_hint}" if archive.local_hint else ""
    raise DataError(f"{archive.filename}: no mirror answered ({'; '.join(failures)}){hint}")


def local_copy(path: Path, archive: Archive) -> str:
    """Check an already downloaded archive against its pins; returns its sha256."""
    got = file_digests(path)
    check_pins(str(path), got, archive)
    log.info("using the local copy %s", path)
    return got.sha256


def obtain(archive: Archive, download_dir: Path, local_dir: Path | None = None
           ) -> tuple[Path, str]:
    """The verified archive: from `local_dir` when it holds a file of that name (checked, not
    copied), else downloaded into `download_dir` (or found there already); (path, sha256)."""
    if local_dir is not None and (local_dir / archive.filename).is_file():
        path = local_dir / archive.filename
        return path, local_copy(path, archive)
    path = download_dir / archive.filename
    return path, fetch_any(path, archive)
