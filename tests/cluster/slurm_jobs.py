"""Submitting `hydra/launcher=slurm` training sweeps to the one-node cluster (conftest.py) and
following their SLURM jobs: the job id, its state, its logs, a requeued job's restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tests.conftest import TINY

T = TypeVar("T")
# What a user sets for their own cluster; this node has no GPU and little memory.
LAUNCHER = ("hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1",
            "hydra.launcher.gpus_per_node=0", "hydra.launcher.mem_gb=1",
            "hydra.launcher.timeout_min=10")


def sweep_command(entry: str, tmp_path: Path, prepared: Path, *overrides: str) -> list[str]:
    """`python -m <entry> -m` on the SLURM launcher, tiny model, toy corpus, sweep in tmp_path."""
    return [sys.executable, "-m", entry, "-m", *LAUNCHER, f"paths.root_dir={tmp_path}",
            "logger=none", f"data.prepared_dir={prepared}", *TINY,
            f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides]


def job_env(**extra: str) -> dict[str, str]:
    """The environment of the launcher, which sbatch passes on to the job (--export=ALL)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


def submit(tmp_path: Path, prepared: Path, *overrides: str,
           env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a one-job `rnnsearch.train` sweep; the launcher process waits for the job's end."""
    return subprocess.Popen(sweep_command("rnnsearch.train", tmp_path, prepared, *overrides),
                            cwd=tmp_path, env=env or job_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(probe: Callable[[], T], what: str, launcher: subprocess.Popen,
             timeout_s: float) -> T:
    """Poll `probe` until it returns something true; fail naming `what` (with the launcher's
    output) if the launcher ends first or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        if launcher.poll() is not None:
            output = launcher.communicate()[0]
            raise AssertionError(f"launcher ended before {what}: {output[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"no {what} after {timeout_s:.0f} s")


def job_id(sweep: Path) -> str | None:
    """The id of the one job submitted for `sweep` (submitit_folder is .submitit/%j)."""
    ids = [p.name for p in (sweep / ".submitit").glob("*") if p.name.isdigit()]
    return ids[0] if len(ids) == 1 else None


def job_info(jid: str) -> dict[str, str]:
    """`scontrol show job` as key -> value (JobState, Restarts, ...); empty once it is purged."""
    shown = subprocess.run(["scontrol", "show", "job", "-o", jid], capture_output=True, text=True,
                           timeout=30)
    fields = (item.split("=", 1) for item in shown.stdout.split() if "=" in item)
    return dict(fields) if shown.returncode == 0 else {}


TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
                             "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"})


def final_job_info(jid: str, timeout_s: float = 60) -> dict[str, str]:
    """`job_info` once SLURM has recorded the job's end: the job's files can be complete (and
    the launcher gone) while slurmctld still shows it RUNNING or COMPLETING for a moment."""
    deadline = time.monotonic() + timeout_s
    while True:
        info = job_info(jid)
        if info.get("JobState") in TERMINAL_STATES:
            return info
        if time.monotonic() >= deadline:
            raise AssertionError(f"job {jid} not in a terminal state after {timeout_s:.0f} s: "
                                 f"{info.get('JobState')}")
        time.sleep(0.2)


def requeued_and_pending(jid: str) -> bool:
    """The job was requeued (Restarts >= 1) and waits to start again."""
    info = job_info(jid)
    return info.get("JobState") == "PENDING" and int(info.get("Restarts", "0")) >= 1


def start_now(jid: str, launcher: subprocess.Popen, timeout_s: float = 120) -> None:
    """Lift the BeginTime (now + about 2 minutes) that slurmctld sets on a requeued job, as an
    administrator would, until the job runs again; it changes when the job starts, not what it
    runs. Repeated while the job still waits for its BeginTime: the end of the interrupted run
    can set it again after the first update."""

    def started() -> bool:
        info = job_info(jid)
        if info.get("JobState") == "PENDING" and info.get("Reason") == "BeginTime":
            subprocess.run(["scontrol", "update", f"JobId={jid}", "StartTime=now"], check=True,
                           timeout=30)
            time.sleep(1)
            return False
        return info.get("JobState") != "PENDING"

    wait_for(started, "a restart of the requeued job", launcher, timeout_s)


def job_log(sweep: Path, jid: str, task: int = 0, stream: str = "out") -> str:
    """What task `task` of the job wrote to stdout ("out") or stderr ("err"), over all its runs
    (submitit appends: open-mode=append)."""
    return (sweep / ".submitit" / jid / f"{jid}_{task}_log.{stream}").read_text()


def cancel(jid: str | None) -> None:
    """Cancel the job (after a failed test, so that it does not hold the node)."""
    if jid:
        subprocess.run(["scancel", jid], timeout=30, check=False)
