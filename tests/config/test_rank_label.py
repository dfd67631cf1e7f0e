"""Each log line of a multi-process run names its rank; a one-process run's lines are Hydra's.

The tasks of a SLURM DDP job append to one job log, so `rnnsearch.cli.RankLabel` (installed by
conf/hydra/job_logging/ranked.yaml, which conf/config.yaml selects) adds "[rank r]" to every line
when the launcher started more than one process.
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from tests.conftest import compose_config

from rnnsearch.cli import RankLabel

LAUNCHER_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS")


@pytest.fixture
def launcher_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in LAUNCHER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _label() -> str:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None)
    assert RankLabel().filter(record)  # labels, never drops
    return record.rank


@pytest.mark.parametrize(("env", "label"), [
    ({}, ""),
    ({"LOCAL_RANK": "1", "WORLD_SIZE": "2"}, "[rank 1]"),  # Lightning's DDP launcher
    ({"LOCAL_RANK": "0", "WORLD_SIZE": "2"}, "[rank 0]"),
    ({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"}, "[rank 3]"),  # torchrun: global rank
    ({"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, "[rank 1]"),  # a 2-task SLURM job
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, ""),  # a 1-task SLURM job
])
def test_the_label_names_the_rank_only_when_there_are_several(
        launcher_env: pytest.MonkeyPatch, env: dict[str, str], label: str) -> None:
    for name, value in env.items():
        launcher_env.setenv(name, value)
    assert _label() == label


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = handlers, level


def test_the_job_log_of_every_entry_point_carries_the_label(
        tmp_path: Path, launcher_env: pytest.MonkeyPatch, restored_logging: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    hydra_cfg = compose_config(tmp_path, return_hydra_config=True).hydra
    job_logging = OmegaConf.to_container(hydra_cfg.job_logging, resolve=False)
    job_logging["handlers"]["file"]["filename"] = str(tmp_path / "train.log")
    logging.config.dictConfig(job_logging)
    log = logging.getLogger("rnnsearch.training.checkpointing")
    log.info("one process")
    launcher_env.setenv("SLURM_NTASKS", "2")
    launcher_env.setenv("SLURM_PROCID", "1")
    log.info("second task")
    lines = (tmp_path / "train.log").read_text().splitlines()
    assert lines[0].endswith("[rnnsearch.training.checkpointing][INFO] - one process")
    assert lines[1].endswith("[rnnsearch.training.checkpointing][INFO][rank 1] - second task")
    assert capsys.readouterr().out.splitlines() == lines  # the console says the same
