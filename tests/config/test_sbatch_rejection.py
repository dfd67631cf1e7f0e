"""A job that sbatch refuses is one line naming the `hydra.launcher.*` keys (cli.sbatch_rejection).

The real refusal on a one-node cluster is in tests/cluster; here each of sbatch's messages.
"""

from __future__ import annotations

import pytest
from submitit.core.utils import FailedJobError

from rnnsearch.cli import LAUNCHER_KEYS, job_failure, sbatch_rejection


@pytest.mark.parametrize(("stderr", "keys"), [
    ("sbatch: error: Invalid generic resource (gres) specification", ["gpus_per_node"]),
    ("sbatch: error: Batch job submission failed: Invalid partition name specified",
     ["partition"]),
    ("sbatch: error: Batch job submission failed: Requested time limit is invalid",
     ["timeout_min"]),
    ("sbatch: error: Memory specification can not be satisfied", ["mem_gb"]),
    ("sbatch: error: Batch job submission failed: Requested node configuration is not available",
     ["nodes", "tasks_per_node", "cpus_per_task", "gpus_per_node", "mem_gb"]),
    ("sbatch: error: something new", list(LAUNCHER_KEYS)),
])
def test_each_refusal_names_its_keys(stderr: str, keys: list[str]) -> None:
    message = sbatch_rejection(FailedJobError(f"\n{stderr}\n"))
    assert message is not None and "\n" not in message
    assert stderr in message
    named = [part.removeprefix("hydra.launcher.")
             for part in message.split("; check ")[1].split(", ")]
    assert named == keys


def test_other_errors_are_not_refusals() -> None:
    assert sbatch_rejection(RuntimeError("sbatch: error: gres")) is None


def _failed_while_running(report: str) -> FailedJobError:
    """What submitit's launcher side raises for a job that ended with an error report."""
    return FailedJobError(f"Job (task=0) failed during processing with trace:\n"
                          f"----------------------\n{report}\n----------------------\n"
                          "You can check full logs with 'job.stderr(0)' and 'job.stdout(0)'")


def test_a_job_that_ran_and_failed_is_not_a_refusal() -> None:
    line = "job not requeued: the time limit was reached again after ... (update 7): ..."
    assert sbatch_rejection(_failed_while_running(line)) is None
    assert job_failure(_failed_while_running(line)) == f"a SLURM job ended: {line}"
    traceback = 'Traceback (most recent call last):\n  File "x.py"\nValueError: bad'
    assert job_failure(_failed_while_running(traceback)) is None  # a bug keeps its traceback
    assert sbatch_rejection(_failed_while_running(traceback)) is None
    assert job_failure(FailedJobError("sbatch: error: gres")) is None
