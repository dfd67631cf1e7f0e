"""`benchmarks/preflight.py --trainer cpu` (make preflight TRAINER=cpu): the smoke form of the
paper-scale preflight runs its code at tiny sizes and prints the projection JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tests.conftest import write_prepared

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "preflight.py"
EXPERIMENTS = {"rnnencdec_30", "rnnencdec_50", "rnnsearch_30", "rnnsearch_50"}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO, check=False)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    prepared = write_prepared(tmp_path_factory.mktemp("prepared") / "toy")
    out = _run("--trainer", "cpu", "--prepared", str(prepared))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0]["check"] == "env" and lines[-1]["check"] == "summary"
    return {r["check"] if r["check"] != "train" else r["experiment"]: r for r in lines}


def test_smoke_projects_the_four_budgets_from_the_measured_rates(smoke: dict[str, dict]) -> None:
    budgets = OmegaConf.load(REPO / "conf/scale/paper.yaml").trainer.max_steps_by_experiment
    proj = smoke["projection"]
    assert proj["budgets"] == dict(budgets) and set(budgets) == EXPERIMENTS
    for experiment in EXPERIMENTS:
        rate = smoke[experiment]["updates_per_s"]
        assert smoke[experiment]["updates"] == 20 and rate > 0
        assert proj["hours"][experiment] == pytest.approx(budgets[experiment] / rate / 3600,
                                                          rel=0.01, abs=0.01)
    assert proj["total_hours"] == pytest.approx(sum(proj["hours"].values()), abs=0.02)


def test_smoke_decodes_the_prepared_test_set_with_beam_10(smoke: dict[str, dict]) -> None:
    decode = smoke["decode"]
    assert decode["beam"] == 10 and decode["source"].startswith("prepared test set")
    assert decode["sentences"] == 12 and decode["seconds"] > 0  # the toy test set has 12


def test_smoke_summary_is_ok_within_the_budget(smoke: dict[str, dict]) -> None:
    summary = smoke["summary"]
    assert summary["ok"] is True and summary["errors"] == []
    assert summary["elapsed_s"] < smoke["env"]["budget_s"]
    assert "gpu_tests" not in smoke  # the smoke form has no CUDA to test


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpu_trainer_without_cuda_exits_non_zero_in_one_line() -> None:
    out = _run("--trainer", "gpu")
    assert out.returncode == 2
    (line,) = out.stdout.splitlines()
    assert "sees no CUDA device" in json.loads(line)["error"]


def test_make_preflight_passes_the_trainer() -> None:
    out = subprocess.run(["make", "-n", "preflight", "TRAINER=cpu"], capture_output=True,
                         text=True, cwd=REPO, check=True)
    assert "benchmarks/preflight.py --trainer cpu" in out.stdout
    out = subprocess.run(["make", "-n", "preflight"], capture_output=True, text=True, cwd=REPO,
                         check=True)
    assert "--trainer gpu" in out.stdout
