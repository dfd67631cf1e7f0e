"""A `hydra/launcher=slurm` training job interrupted on the one-node SLURM cluster (conftest.py)
checkpoints the current update, is requeued, and the requeued run resumes at that update.

- `scancel --signal=USR2`: the signal submitit asks SLURM for before the time limit; submitit's
  handler requeues the job (`scontrol requeue` from inside it).
- `scontrol requeue`: SLURM itself sends SIGCONT and SIGTERM to the job step, then requeues it.
- both, with USR2, on a 2-task DDP job (one SLURM task per rank).
- USR2 once `max_num_timeout` requeues are used up: the job ends in one line, status 1.
Each job trains long enough that the signal lands mid-run: the test waits for the first periodic
checkpoint before it signals. slurmctld holds a requeued job back for about 2 minutes
(BeginTime); the test lifts that once the job is pending again (`slurm_jobs.start_now`).
About 2 minutes on two cores.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from tests.cluster.slurm_jobs import (
    cancel,
    final_job_info,
    job_env,
    job_id,
    job_info,
    job_log,
    requeued_and_pending,
    start_now,
    submit,
    wait_for,
)
from tests.conftest import TINY, compose_config

from rnnsearch.training.fit import run

# the tests' own waits: submit 60 + checkpoint 180 + requeue 90 + restart 120 + end 300 s, and
# a DDP reference run (300 s) before them
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200)]
# 96 toy pairs / batch 8: 12 updates per epoch. One process runs ~100 updates/s here, so 1000
# updates leave several seconds between the first checkpoint (50) and the end.
SCHEDULE = ("experiment=rnnsearch_30", "trainer.max_steps=1000", "trainer.val_check_interval=250",
            "trainer.checkpoint_every_n_steps=50")
DDP = ("trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp",
       "trainer.precision=32-true")  # hydra.launcher.tasks_per_node follows trainer.devices
DDP_SCHEDULE = ("experiment=rnnsearch_30", "trainer.max_steps=400",
                "trainer.val_check_interval=200", "trainer.checkpoint_every_n_steps=20")
PROGRESS = "trainer.enable_progress_bar=true"  # without a terminal: a log line per update
JOB = "0_rnnsearch_30_seed1234"
SITE = Path(__file__).with_name("site")  # sitecustomize: records what tasks > 0 write


@dataclass
class Requeued:
    """A job that was interrupted once, requeued, and finished."""

    jid: str
    sweep: Path
    stopped: int  # global_step of last.ckpt while the requeued job waited to start again
    launcher_output: str

    @property
    def job_dir(self) -> Path:
        return self.sweep / JOB


def _interrupted(tmp_path: Path, prepared: Path, interrupt: list[str], first_checkpoint: int,
                 *overrides: str, env: dict[str, str] | None = None) -> Requeued:
    """Submit, `interrupt` the job after its first checkpoint, restart it once it is requeued,
    and wait for the launcher (which returns once the requeued run has finished)."""
    sweep = tmp_path / "sweep"
    launcher = submit(tmp_path, prepared, *overrides, PROGRESS, env=env)
    jid = None
    try:
        jid = wait_for(lambda: job_id(sweep), "a submitted job", launcher, 60)
        first = sweep / JOB / "checkpoints" / f"step{first_checkpoint:07d}.ckpt"
        wait_for(first.is_file, f"{first}", launcher, 180)
        assert job_info(jid)["JobState"] == "RUNNING"
        subprocess.run([*interrupt, jid], check=True, timeout=30)
        wait_for(lambda: requeued_and_pending(jid), "a requeue", launcher, 90)
        stopped = torch.load(sweep / JOB / "last.ckpt", weights_only=True)["global_step"]
        start_now(jid, launcher)
        output, _ = launcher.communicate(timeout=300)
    except BaseException:
        launcher.kill()
        cancel(jid)
        raise
    assert launcher.returncode == 0, output[-3000:]
    return Requeued(jid, sweep, stopped, output)


def _steps(log: str) -> list[int]:
    """The updates that the progress lines of a log report, in order."""
    return [int(m) for m in re.findall(r"\] - step (\d+)/\d+ ", log)]


def _assert_resumed_at_the_stop(job: Requeued, signal_name: str, budget: int, task: int = 0
                                ) -> None:
    log, last = job_log(job.sweep, job.jid, task), job.job_dir / "last.ckpt"
    saved = f"{signal_name} at update {job.stopped}: checkpoint saved to {last}"
    assert log.count(saved) == 1, log[-3000:]
    before, resumed, after = log.partition(f"resuming from {last} (update {job.stopped})")
    assert resumed, log[-3000:]
    assert saved in before and "resuming" not in before  # the first run started from update 0
    assert f"rnnsearch_30: {budget} updates" in after
    if task == 0:  # progress lines come from rank 0
        assert _steps(after)[0] == job.stopped + 1
        assert _steps(before) + _steps(after) == list(range(1, budget + 1))  # none twice, none lost


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(model_dir / "last.ckpt", weights_only=True)["state_dict"]


def _curve_steps(path: Path) -> list[int]:
    with open(path) as fh:
        return [int(row["step"]) for row in csv.DictReader(fh)]


def _assert_same_weights(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys()
    for name in want:
        assert torch.equal(got[name], want[name]), name


@pytest.fixture(scope="module")
def uninterrupted(slurm_cluster: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
                  prepared_dir: Path) -> dict[str, torch.Tensor]:
    """Final weights of the one-process schedule trained in one go (in this process)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    run(compose_config(root, f"data.prepared_dir={prepared_dir}", *TINY, *SCHEDULE))
    return _weights(root / "artifacts" / "models" / "rnnsearch_30")


def test_usr2_checkpoints_requeues_and_resumes_at_the_same_update(
        uninterrupted: dict[str, torch.Tensor], tmp_path: Path, prepared_dir: Path) -> None:
    job = _interrupted(tmp_path, prepared_dir, ["scancel", "--signal=USR2"], 50, *SCHEDULE)
    assert 50 <= job.stopped < 1000  # mid-run
    _assert_resumed_at_the_stop(job, "SIGUSR2", 1000)
    # srun's own "task 0: Exited with exit code ..." line is not asserted: the requeue that the
    # handler asks for kills the batch step, often before srun can write it (a race)
    assert f"Requeued job {job.jid}" in job_log(job.sweep, job.jid)  # the handler ran
    info = final_job_info(job.jid)
    assert (info["JobState"], info["Restarts"]) == ("COMPLETED", "1")
    assert json.loads((job.job_dir / "summary.json").read_text())["updates"] == 1000
    assert _curve_steps(job.job_dir / "curves.csv") == [250, 500, 750, 1000]
    _assert_same_weights(_weights(job.job_dir), uninterrupted)


def test_scontrol_requeue_checkpoints_and_resumes_at_the_same_update(
        uninterrupted: dict[str, torch.Tensor], tmp_path: Path, prepared_dir: Path) -> None:
    job = _interrupted(tmp_path, prepared_dir, ["scontrol", "requeue"], 50, *SCHEDULE)
    assert 50 <= job.stopped < 1000
    _assert_resumed_at_the_stop(job, "SIGTERM", 1000)  # what SLURM sends to a requeued job
    # SLURM requeued it; submitit only logged the SIGTERM (srun's exit line: see above)
    assert "Requeued job" not in job_log(job.sweep, job.jid)
    info = final_job_info(job.jid)
    assert (info["JobState"], info["Restarts"]) == ("COMPLETED", "1")
    assert json.loads((job.job_dir / "summary.json").read_text())["updates"] == 1000
    assert _curve_steps(job.job_dir / "curves.csv") == [250, 500, 750, 1000]
    _assert_same_weights(_weights(job.job_dir), uninterrupted)


def test_usr2_after_the_last_allowed_requeue_ends_the_job_in_one_line(
        slurm_cluster: dict[str, str], tmp_path: Path, prepared_dir: Path) -> None:
    """With hydra.launcher.max_num_timeout=0 the first time-out signal is one too many: submitit
    refuses to requeue, and the job ends with one line naming the limit and the checkpoint."""
    sweep = tmp_path / "sweep"
    launcher = submit(tmp_path, prepared_dir, *SCHEDULE, PROGRESS,
                      "hydra.launcher.max_num_timeout=0")
    jid = None
    try:
        jid = wait_for(lambda: job_id(sweep), "a submitted job", launcher, 60)
        first = sweep / JOB / "checkpoints" / "step0000050.ckpt"
        wait_for(first.is_file, f"{first}", launcher, 180)
        subprocess.run(["scancel", "--signal=USR2", jid], check=True, timeout=30)
        output, _ = launcher.communicate(timeout=300)
    except BaseException:
        launcher.kill()
        cancel(jid)
        raise
    info = final_job_info(jid)
    assert (info["JobState"], info["ExitCode"], info["Restarts"]) == ("FAILED", "1:0", "0")
    last = sweep / JOB / "last.ckpt"
    stopped = torch.load(last, weights_only=True)["global_step"]
    assert 50 <= stopped < 1000
    line = ("job not requeued: the time limit was reached again after "
            "hydra.launcher.max_num_timeout requeues; the last checkpoint is "
            f"{last} (update {stopped}): submit it again with the same hydra.sweep.dir to "
            "resume from it")
    err = job_log(sweep, jid, stream="err")
    assert line in err.splitlines() and "Traceback" not in err, err[-3000:]
    assert job_log(sweep, jid).count(line) == 1  # the job log has it once too
    # the launcher learns it from the job's result file (no accounting here: no sacct state)
    assert launcher.returncode == 1, output[-3000:]
    assert f"rnnsearch.train: error: a SLURM job ended: {line}" in output.splitlines()


def test_two_task_ddp_job_resumes_on_both_ranks(slurm_cluster: dict[str, str], tmp_path: Path,
                                                prepared_dir: Path) -> None:
    whole = tmp_path / "whole"
    whole.mkdir()
    reference = submit(whole, prepared_dir, *DDP_SCHEDULE, *DDP)
    output, _ = reference.communicate(timeout=300)
    assert reference.returncode == 0, output[-3000:]

    writes = tmp_path / "rank_writes.txt"
    env = job_env(PYTHONPATH=os.pathsep.join([str(SITE), os.environ.get("PYTHONPATH", "")]),
                  WRITE_WATCH_ROOT=str(tmp_path / "sweep"), WRITE_WATCH_LOG=str(writes))
    job = _interrupted(tmp_path, prepared_dir, ["scancel", "--signal=USR2"], 20, *DDP_SCHEDULE,
                       *DDP, env=env)
    assert 20 <= job.stopped < 400
    for rank in (0, 1):  # each rank stopped at, and resumed from, the same update
        _assert_resumed_at_the_stop(job, "SIGUSR2", 400, task=rank)
    assert json.loads((job.job_dir / "summary.json").read_text())["updates"] == 400
    weights = _weights(job.job_dir)
    assert all(math.isfinite(float(w.abs().sum())) for w in weights.values())
    _assert_same_weights(weights, _weights(whole / "sweep" / JOB))

    # Rank 1 wrote no training output: only the Hydra job files that every task of a job
    # writes (.hydra/*.yaml, the job log) and its own submitit result.
    written = {os.path.relpath(p, job.sweep) for p in writes.read_text().split()}
    assert f".submitit/{job.jid}/{job.jid}_1_result.pkl" in written  # the watch was on
    hydra_own = {f"{JOB}/.hydra/{name}.yaml" for name in ("config", "hydra", "overrides")}
    assert {p for p in written if not p.startswith(".submitit/")} <= hydra_own | {
        f"{JOB}/train.log"}

    # Both tasks append to the one job log; each line names the rank that wrote it.
    stops = [line for line in (job.job_dir / "train.log").read_text().splitlines()
             if "SIGUSR2 at update" in line]
    assert sorted(line.split("[rank ")[1][0] for line in stops) == ["0", "1"], stops
