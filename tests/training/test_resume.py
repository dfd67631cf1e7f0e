"""A crashed and resumed run ends with exactly the weights and curve of an uninterrupted one."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import DictConfig
from tests.conftest import RESUME_SCHEDULE

from rnnsearch.training.fit import run

Compose = Callable[..., DictConfig]
SCHEDULE = RESUME_SCHEDULE  # the schedule of the shared `uninterrupted` run (conftest.py)


class Crash(L.Callback):
    """Simulate a killed process: raise right after update `step` (no checkpoint is written)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError(f"simulated crash at step {self.step}")


def _final(root: Path) -> tuple[dict[str, torch.Tensor], list[dict[str, str]], dict]:
    model_dir = root / "artifacts" / "models" / "rnnsearch_30"
    ckpt = torch.load(model_dir / "last.ckpt", weights_only=True)
    with open(root / "reports" / "curves" / "rnnsearch_30.csv") as fh:
        rows = list(csv.DictReader(fh))
    return ckpt["state_dict"], rows, ckpt


@pytest.mark.parametrize("crash_step", [10, 13])  # resume mid-epoch (from 8) / at its end (12)
def test_resume_after_crash_matches_uninterrupted_run(train_cfg: Compose, tmp_path: Path,
                                                       uninterrupted: Path,
                                                       crash_step: int) -> None:
    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(train_cfg(*SCHEDULE, root=crashed), callbacks=[Crash(crash_step)])
    _, _, before = _final(crashed)
    assert before["global_step"] == crash_step // 4 * 4  # the last periodic checkpoint
    summary = run(train_cfg(*SCHEDULE, "resume=true", root=crashed))
    assert summary["updates"] == 14
    want, want_rows, _ = _final(uninterrupted)
    got, got_rows, _ = _final(crashed)
    assert want.keys() == got.keys()
    for name in want:
        assert torch.equal(got[name], want[name]), name  # bit for bit, as the README says
    assert [r["step"] for r in got_rows] == [r["step"] for r in want_rows] == ["5", "10", "14"]
    for a, b in zip(got_rows, want_rows, strict=True):
        assert (a["val/loss"], a["train/loss"]) == (b["val/loss"], b["train/loss"])  # as written


# Every shipped trainer config checkpoints exactly where it validates (demo: 1500 / 1500).
COINCIDE = ("trainer.max_steps=14", "trainer.checkpoint_every_n_steps=4",
            "trainer.val_check_interval=4", "experiment=rnnsearch_30")


@pytest.mark.parametrize("order", ["groundhog", "shuffled"])  # data.batch_order, App. B.2
def test_resume_where_checkpoint_and_validation_coincide(train_cfg: Compose, tmp_path: Path,
                                                         order: str) -> None:
    """Crash at 10, resume from the step-8 checkpoint that a step-8 validation shares."""
    schedule = (*COINCIDE, f"data.batch_order={order}")
    whole = tmp_path / "whole"
    run(train_cfg(*schedule, root=whole))
    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(train_cfg(*schedule, root=crashed), callbacks=[Crash(10)])
    _, rows_before, before = _final(crashed)
    assert before["global_step"] == 8  # checkpoint of the update that was also validated ...
    assert [r["step"] for r in rows_before] == ["4", "8"]  # ... after that validation
    run(train_cfg(*schedule, "resume=true", root=crashed))
    want, want_rows, _ = _final(whole)
    got, got_rows, _ = _final(crashed)
    for name in want:
        assert torch.equal(got[name], want[name]), name  # bit for bit, as the README says
    assert [r["step"] for r in got_rows] == [r["step"] for r in want_rows] == ["4", "8", "12", "14"]
    for a, b in zip(got_rows, want_rows, strict=True):
        assert a["val/loss"] == b["val/loss"]
    best = [torch.load(root / "artifacts/models/rnnsearch_30/best.ckpt", weights_only=True)
            for root in (whole, crashed)]
    assert best[0]["global_step"] == best[1]["global_step"]  # the same best.ckpt choice
