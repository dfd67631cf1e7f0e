"""`logger=csv`: a killed and resumed run ends with metrics.csv holding each update's rows once.

Lightning's CSVLogger deletes metrics.csv when a run starts in the same directory, so a resumed
run kept only the rows logged after the resume (the project's own curves file was intact).
The trimmed file replaces the old one atomically: a failure (or kill) while it is written leaves
the old file whole.
"""

from __future__ import annotations

import csv
import errno
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig
from tests.conftest import RESUME_SCHEDULE
from tests.training.test_resume import Crash

from rnnsearch.io_utils import OutputWriteError
from rnnsearch.training.fit import run
from rnnsearch.training.loggers import ResumedCSVLogger

Compose = Callable[..., DictConfig]
METRICS = Path("artifacts") / "models" / "rnnsearch_30" / "csv_logs" / "metrics.csv"


def _rows(root: Path) -> list[dict[str, str]]:
    with open(root / METRICS, newline="") as fh:
        return list(csv.DictReader(fh))


def _logged(rows: list[dict[str, str]], key: str) -> Counter:
    """How many rows log `key`, per step."""
    return Counter(int(r["step"]) for r in rows if r.get(key))


def test_resumed_run_keeps_the_rows_before_the_resume(train_cfg: Compose, tmp_path: Path) -> None:
    root = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):  # after update 10; last.ckpt: 8
        run(train_cfg(*RESUME_SCHEDULE, "logger=csv", root=root), callbacks=[Crash(10)])
    before = _rows(root)
    assert max(_logged(before, "train/loss")) >= 8  # update 9's row: logged again by the rerun
    summary = run(train_cfg(*RESUME_SCHEDULE, "logger=csv", "resume=true", root=root))
    assert summary["updates"] == 14
    rows = _rows(root)
    # trainer=smoke logs every update; validation after updates 5, 10 and 14 (Lightning's step
    # column: update u is logged at step u - 1)
    assert _logged(rows, "train/loss") == Counter(range(14))
    assert _logged(rows, "val/loss") == Counter([4, 9, 13])
    kept = {int(r["step"]): r["train/loss"] for r in before if r.get("train/loss")}
    again = {int(r["step"]): r["train/loss"] for r in rows if r.get("train/loss")}
    assert all(again[step] == kept[step] for step in range(8))  # the first run's rows


def _metrics_dir(tmp_path: Path, steps: int) -> Path:
    log_dir = tmp_path / "csv_logs"
    log_dir.mkdir()
    with open(log_dir / "metrics.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["step", "train/loss"])
        writer.writeheader()
        writer.writerows({"step": k, "train/loss": 1.0 / (k + 1)} for k in range(steps))
    return log_dir


def _writer(tmp_path: Path, resumed_step: int | None) -> object:
    return ResumedCSVLogger(save_dir=str(tmp_path), name="csv_logs", version="",
                            resumed_step=resumed_step).experiment


def test_the_rows_after_the_resumed_update_are_trimmed_and_a_fresh_run_starts_over(
        tmp_path: Path) -> None:
    log_dir = _metrics_dir(tmp_path, 10)
    _writer(tmp_path, 6)
    with open(log_dir / "metrics.csv", newline="") as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == list(range(6))
    assert [p.name for p in log_dir.iterdir()] == ["metrics.csv"]  # no temporary file left
    _writer(tmp_path, None)  # not a resume: Lightning's behaviour, the old rows go
    assert not (log_dir / "metrics.csv").exists()


def test_a_failed_trim_leaves_the_old_metrics_file_whole(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    log_dir = _metrics_dir(tmp_path, 10)
    before = (log_dir / "metrics.csv").read_text()

    def disk_full(self: csv.DictWriter, rows: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv.DictWriter, "writerows", disk_full)
    with pytest.raises(OutputWriteError, match="metrics.csv"):
        _writer(tmp_path, 6)
    assert (log_dir / "metrics.csv").read_text() == before
    assert [p.name for p in log_dir.iterdir()] == ["metrics.csv"]
