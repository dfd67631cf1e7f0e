"""A full disk while writing an output keeps the previous good file and stops with one line.

The failure is injected where the operating system would report it: a write, an fsync or the
final rename raising OSError(ENOSPC). Covered: every io_utils writer (translations, metrics,
reports and prepared data go through them) and checkpoints (AtomicCheckpointIO, torch.save).
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from rnnsearch import io_utils
from rnnsearch.io_utils import (
    OutputWriteError,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_lines,
    atomic_write_text,
)
from rnnsearch.training import checkpointing
from rnnsearch.training.checkpointing import AtomicCheckpointIO


def _enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name)


WRITERS = {
    "text": (atomic_write_text, "new text\n"),
    "lines": (atomic_write_lines, ["hyp 1", "hyp 2"]),  # translate.py: test.hyp.tok / .detok
    "json": (atomic_write_json, {"bleu": 1.0}),  # evaluate.py: reports/metrics/<exp>.json
    "bytes": (atomic_write_bytes, b"\x00\x01"),
}


@pytest.mark.parametrize("stage", ["fsync", "replace"])
@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_full_disk_keeps_previous_file_and_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     kind: str, stage: str) -> None:
    target = tmp_path / "reports" / "results.md"
    target.parent.mkdir()
    target.write_text("previous good\n")
    monkeypatch.setattr(io_utils.os, stage, _enospc)
    write, payload = WRITERS[kind]
    with pytest.raises(OutputWriteError) as info:
        write(target, payload)
    message = str(info.value)
    assert "\n" not in message
    assert f"could not write {target}: No space left on device; the previous file is kept" \
        in message
    assert message.endswith("free disk space, then rerun")
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "previous good\n"
    assert _leftovers(target.parent) == []


def test_full_disk_during_the_write_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "test.hyp.tok"
    target.write_text("old\n")
    monkeypatch.setattr(Path, "write_bytes", _enospc)
    with pytest.raises(OutputWriteError, match=f"could not write {target}: No space left"):
        atomic_write_lines(target, ["new"])
    assert target.read_text() == "old\n" and _leftovers(tmp_path) == []


def test_first_write_failing_says_there_was_no_previous_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(io_utils.os, "fsync", _enospc)
    with pytest.raises(OutputWriteError, match="; no previous file existed;"):
        atomic_write_text(tmp_path / "new.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_other_errors_are_not_reported_as_a_full_disk(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), io_utils.atomic_path(tmp_path / "x.txt"):
        open(tmp_path / "missing-input.txt")  # noqa: SIM115 -- an input error inside the block


class _FullDiskFile(io.FileIO):
    """A file that accepts `budget` bytes, then fails like a full disk."""

    budget = 100

    def write(self, data: Any) -> int:
        if len(memoryview(data)) > self.budget:
            super().write(bytes(memoryview(data)[: self.budget]))
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= len(memoryview(data))
        return super().write(data)


def test_checkpoint_write_failing_keeps_previous_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "checkpoints" / "step0000040.ckpt"
    ckpt_io = AtomicCheckpointIO()
    ckpt_io.save_checkpoint({"global_step": 20, "state_dict": {"w": torch.zeros(4)}}, path)
    monkeypatch.setattr(checkpointing, "open", lambda p, mode: _FullDiskFile(p, mode),
                        raising=False)
    with pytest.raises(OutputWriteError) as info:
        ckpt_io.save_checkpoint({"global_step": 40, "state_dict": {"w": torch.ones(4096)}}, path)
    assert str(info.value) == (f"[Errno {errno.ENOSPC}] could not write {path}: No space left on "
                               "device; the previous file is kept; free disk space, then rerun")
    kept = torch.load(path, weights_only=True)
    assert kept["global_step"] == 20 and torch.equal(kept["state_dict"]["w"], torch.zeros(4))
    assert _leftovers(path.parent) == []


def test_checkpoint_io_still_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"global_step": 3, "w": torch.arange(5.0)}, path)
    loaded = AtomicCheckpointIO().load_checkpoint(path)
    assert loaded["global_step"] == 3 and torch.equal(loaded["w"], torch.arange(5.0))
    assert oct(os.stat(path).st_mode & 0o777) != oct(0o600)  # umask mode, not mkstemp's 0600
