"""Hydra sweeps through `hydra/launcher=slurm` on a real one-node SLURM cluster (conftest)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cluster.slurm_jobs import LAUNCHER, job_env, sweep_command
from tests.conftest import SWEEP, compose_config, write_prepared

# a sweep's own wait is 400 s, the cluster's start 120 s
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]


def _sweep(entry: str, tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    cmd = sweep_command(entry, tmp_path, write_prepared(tmp_path / "toy"), *overrides)
    return subprocess.run(cmd, cwd=tmp_path, env=job_env(), capture_output=True, text=True,
                          timeout=400)


def test_two_job_train_sweep_finishes(slurm_cluster: dict[str, str], tmp_path: Path) -> None:
    proc = _sweep("rnnsearch.train", tmp_path, "experiment=rnnsearch_30,rnnencdec_30", "seed=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir() and p.name[0] != ".")
    assert jobs == ["0_rnnsearch_30_seed1", "1_rnnencdec_30_seed1"]
    for job in jobs:
        summary = json.loads((tmp_path / "sweep" / job / "summary.json").read_text())
        assert summary["updates"] == 6 and summary["experiment"] in job  # trainer=smoke budget
    submitted = list((tmp_path / "sweep" / ".submitit").glob("*/*_submitted.pkl"))
    assert len(submitted) == 2  # two SLURM jobs, not two local processes


def test_experiment_sweep_ends_with_metrics_per_job(slurm_cluster: dict[str, str],
                                                    tmp_path: Path) -> None:
    from rnnsearch import generate, prepare
    cfg = compose_config(tmp_path, *SWEEP)
    generate.run(cfg)
    prepare.run(cfg)
    cmd = [sys.executable, "-m", "rnnsearch.experiment", "-m", *LAUNCHER, "seed=1,2",
           "experiment=rnnsearch_30", f"paths.root_dir={tmp_path}", *SWEEP,
           f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    done = subprocess.run(cmd, cwd=tmp_path, env=job_env(), capture_output=True, text=True,
                          timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    for job in ("0_rnnsearch_30_seed1", "1_rnnsearch_30_seed2"):
        metrics = json.loads((tmp_path / "sweep" / job / "reports" / "metrics" /
                              "rnnsearch_30.json").read_text())
        assert set(metrics["bleu"]) == {"all", "no_unk"}


def test_a_job_sbatch_refuses_is_one_line_naming_the_launcher_key(
        slurm_cluster: dict[str, str], tmp_path: Path) -> None:
    proc = _sweep("rnnsearch.train", tmp_path, "hydra.launcher.gpus_per_node=1")  # no GPU here
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("rnnsearch.train:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "gres" in errors[0] and "hydra.launcher.gpus_per_node" in errors[0]
