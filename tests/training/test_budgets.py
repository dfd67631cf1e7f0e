"""Update budgets at scale=paper (Table 2, App. B.2) and how a run records why it stopped."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from rnnsearch.config_checks import update_budget
from rnnsearch.evaluation.evaluate_stage import learning_stats
from rnnsearch.evaluation.paper_tables import PAPER_TABLE2, learning_table
from rnnsearch.training.fit import run

Compose = Callable[..., DictConfig]


@pytest.mark.parametrize("experiment", ["rnnencdec_30", "rnnencdec_50", "rnnsearch_30",
                                        "rnnsearch_50"])
def test_paper_scale_budget_is_table2(compose_cfg: Compose, experiment: str) -> None:
    cfg = compose_cfg("scale=paper", "data=wmt14_en_fr", f"experiment={experiment}")
    assert update_budget(cfg) == PAPER_TABLE2[experiment][0]
    # trainer=gpu (Makefile repro-wmt14) keeps the budget: scale/paper.yaml is applied after it
    gpu = compose_cfg("scale=paper", "trainer=gpu", f"experiment={experiment}")
    assert update_budget(gpu) == PAPER_TABLE2[experiment][0]


def test_paper_scale_star_trains_until_dev_stops(compose_cfg: Compose) -> None:
    cfg = compose_cfg("scale=paper", "trainer=gpu", "experiment=rnnsearch_50star")
    assert update_budget(cfg) == -1 and cfg.trainer.early_stopping_patience > 0


def test_time_limited_stop_is_recorded(train_cfg: Compose, tmp_path: Path) -> None:
    cfg = train_cfg("experiment=rnnsearch_30", "trainer.max_time=00:00:00:00")
    summary = run(cfg)
    assert summary["updates"] < update_budget(cfg) and summary["stop_reason"] == "time_limit"
    saved = json.loads((tmp_path / "artifacts/models/rnnsearch_30/summary.json").read_text())
    assert saved["stop_reason"] == "time_limit"
    row = learning_table({"rnnsearch_30": {"training": learning_stats(saved)}})
    assert f"{summary['updates']} (stopped by the time limit)" in row


def test_budget_stop_is_recorded(train_cfg: Compose) -> None:
    summary = run(train_cfg("experiment=rnnsearch_30"))
    assert summary["updates"] == 6 and summary["stop_reason"] == "update_budget"
    row = learning_table({"rnnsearch_30": {"training": learning_stats(summary)}})
    assert "time limit" not in row
