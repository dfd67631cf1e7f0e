"""The one chunked file hasher (rnnsearch/file_hash.py) and the digests built on it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rnnsearch import file_hash
from rnnsearch.data.guards import prepared_data_hash


def test_chunked_digest_equals_the_whole_file_digest(tmp_path: Path, monkeypatch) -> None:
    """Blocks smaller than the file (so it is read in several) give the whole file's digest."""
    data = bytes(range(256)) * 41 + b"tail"
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    monkeypatch.setattr(file_hash, "BLOCK", 1000)  # 11 blocks, the last one short
    assert file_hash.file_sha256(path) == hashlib.sha256(data).hexdigest()
    md5 = hashlib.md5(b"prefix", usedforsecurity=False)
    file_hash.update_from_file(md5, path)
    assert md5.hexdigest() == hashlib.md5(b"prefix" + data, usedforsecurity=False).hexdigest()


def test_prepared_data_hash_is_names_and_bytes_in_name_order(tmp_path: Path) -> None:
    """The hash resume fingerprints and checkpoints record: unchanged by the shared reader."""
    (tmp_path / "b.txt").write_bytes(b"second")
    (tmp_path / "a.txt").write_bytes(b"first")
    (tmp_path / "stats.json").write_text("{}")  # a summary of the rest: left out
    expected = hashlib.sha256(b"a.txt" + b"first" + b"b.txt" + b"second").hexdigest()[:16]
    assert prepared_data_hash(tmp_path) == expected
