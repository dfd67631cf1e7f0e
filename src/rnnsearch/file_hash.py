"""Content hashes of files, read in 1 MiB blocks (checkpoints and corpora run to gigabytes).

The one chunked file reader behind every file digest: checkpoint hashes (evaluation), the
prepared-data and training-code hashes of the resume fingerprint (data/guards.py,
training/resume.py) and archive checks (corpora/wmt14). A download hashes its bytes while it
writes them (corpora/wmt14/download.py), not through here.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

BLOCK = 1 << 20  # bytes read at a time


def update_from_file(digest: Any, path: str | os.PathLike[str]) -> None:
    """Feed the bytes of `path` into `digest` (a hashlib object), block by block: the same
    digest as `digest.update(whole_file)`, with at most `BLOCK` bytes in memory."""
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    update_from_file(digest, path)
    return digest.hexdigest()
