"""`logger=csv`: a killed and resumed run ends with metrics.csv holding each update's rows once.

Lightning's CSVLogger deletes metrics.csv when a run starts in the same directory, so a resumed
run kept only the rows logged after the resume (the project's own curves file was intact).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig
from tests.conftest import RESUME_SCHEDULE
from tests.training.test_resume import Crash

from rnnsearch.training.fit import run

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
