"""Fetch, verify and unpack corpus archives safely (used by the WMT'14 recipe, `wmt14.py`).

- Downloads stream through `urllib` into a temporary file beside the target and are renamed
  only after the SHA-256 matches the pinned value, so a partial or tampered file never takes
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
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from rnnsearch.data.corpus import DataError
from rnnsearch.io_utils import atomic_write_lines

log = logging.getLogger(__name__)
_BLOCK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _check_hash(name: str, actual: str, expected: str | None, allow_unpinned: bool) -> None:
    if expected is None:
        if not allow_unpinned:
            raise DataError(f"{name}: no sha256 pinned; rerun with data.wmt14.allow_unpinned=true "
                            f"once and copy the logged hash into conf/data/wmt14_en_fr.yaml")
        log.warning("%s: UNPINNED download, sha256=%s (pin it in the config)", name, actual)
    elif actual != expected.lower():
        raise DataError(f"{name}: checksum mismatch: expected sha256 {expected}, got {actual}")


def fetch(url: str, dest: str | os.PathLike[str], sha256: str | None,
          allow_unpinned: bool = False, timeout: float = 60.0) -> str:
    """Download `url` to `dest` (skipped when `dest` already has the pinned hash).

    Args:
        url: http(s) URL.
        dest: final file path.
        sha256: pinned hex digest; None needs `allow_unpinned` (the hash is then logged).
        allow_unpinned: accept a download without a pinned hash.
        timeout: socket timeout in seconds.

    Returns:
        The file's SHA-256.

    Raises:
        DataError: on a checksum mismatch (the download is deleted) or a missing pin.
        ValueError: for a non-http(s) URL.
    """
    dest = Path(dest)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"refusing to download {url!r}: only http(s) URLs are allowed")
    if dest.is_file():
        actual = sha256_file(dest)
        if sha256 is not None and actual == sha256.lower():
            return actual
        log.info("%s exists but does not match the pinned hash; downloading again", dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.part-", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while block := resp.read(_BLOCK):
                digest.update(block)
                out.write(block)
        _check_hash(url, digest.hexdigest(), sha256, allow_unpinned)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("downloaded %s -> %s", url, dest)
    return digest.hexdigest()


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


def fetch_and_unpack(archives: dict[str, tuple[str, str | None]], download_dir: Path,
                     unpack_root: Path, allow_unpinned: bool = False,
                     ) -> tuple[dict[str, Path], dict[str, str]]:
    """`fetch` then `unpack` each archive; record the hashes in `<download_dir>/SHA256SUMS`.

    Args:
        archives: name -> (url, pinned sha256 or None).
        download_dir: where the downloaded files go (named after the URL's last component).
        unpack_root: each archive is unpacked into `unpack_root/<name>/`.
        allow_unpinned: accept archives without a pinned hash (their hash is logged).

    Returns:
        (name -> unpacked directory, name -> sha256).
    """
    roots, hashes, sums = {}, {}, []
    for name, (url, pinned) in sorted(archives.items()):
        filename = PurePosixPath(urllib.parse.urlsplit(url).path).name or name
        hashes[name] = fetch(url, download_dir / filename, pinned, allow_unpinned)
        roots[name] = unpack(download_dir / filename, unpack_root / name)
        sums.append(f"{hashes[name]}  {filename}")
    atomic_write_lines(download_dir / "SHA256SUMS", sums)
    return roots, hashes
