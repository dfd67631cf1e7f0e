"""Atomic writes: a failure mid-write leaves neither a partial final file nor a temp file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rnnsearch.io_utils import atomic_path, atomic_write_json, atomic_write_text


def test_failed_write_leaves_previous_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "finished\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half writ")
        raise RuntimeError("killed")
    assert target.read_text() == "finished\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_json_written_atomically_is_complete(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "m.json"
    atomic_write_json(target, {"b": 1, "a": [1, 2]})
    assert target.read_text().startswith("{\n  \"a\"")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_rows_csv_reads_back_and_keeps_a_header_without_rows() -> None:
    import csv
    import io

    from rnnsearch.io_utils import rows_csv

    rows = [{"b": 1, "a": "x"}, {"b": 2, "a": ""}]
    assert list(csv.DictReader(io.StringIO(rows_csv(rows)))) == [
        {"b": "1", "a": "x"}, {"b": "2", "a": ""}]
    assert rows_csv(rows, ["a", "b"]).splitlines()[0] == "a,b"
    assert rows_csv([], ["a", "b"]) == "a,b\n"
    assert rows_csv([]) == ""
