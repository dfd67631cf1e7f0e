"""A stop signal checkpoints the current update and exits; the rerun ends as an uninterrupted run.

The training runs in a subprocess that really receives the signal from this process (SIGTERM as
sent by SLURM preemption and `timeout`, SIGINT as Ctrl-C, SIGUSR2 as sent by submitit before the
time limit). The child pauses after update `STOP_AT` until the signal has arrived, so the moment
is exact and the test is not timing-dependent.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig
from tests.conftest import RESUME_SCHEDULE

from rnnsearch.training.fit import run
from rnnsearch.training.resume import FINGERPRINT_KEY

pytestmark = pytest.mark.timeout(600)  # a child's start (240 s) and end (240 s), then the rerun

Compose = Callable[..., DictConfig]
REPO_ROOT = Path(__file__).resolve().parents[2]
# The shared `uninterrupted` run's schedule (conftest.py): a stop at 10 is mid-epoch and between
# periodic checkpoints (the last one is at 8).
SCHEDULE = RESUME_SCHEDULE
STOP_AT = 10

CHILD = """
import signal, sys, time
from pathlib import Path
import lightning as L
from hydra import compose, initialize_config_dir
from rnnsearch.training.checkpointing import PreemptionCheckpoint
from rnnsearch.config import register_configs
from rnnsearch.training.fit import run

conf_dir, ready, stop_at, fake_submitit, *overrides = sys.argv[1:]

class PauseUntilSignalled(L.Callback):
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step != int(stop_at):
            return
        pre = next(c for c in trainer.callbacks if isinstance(c, PreemptionCheckpoint))
        Path(ready).write_text(str(trainer.global_step))
        deadline = time.monotonic() + 60
        while pre.received is None and time.monotonic() < deadline:
            time.sleep(0.01)

if fake_submitit == "1":  # what submitit installs: requeue (here: a marker file), then exit -1
    def requeue(signum, frame):
        Path(ready + ".requeued").write_text(signal.Signals(signum).name)
        sys.exit(-1)
    signal.signal(signal.SIGUSR2, requeue)

register_configs()
with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
    cfg = compose("config", overrides=overrides)
run(cfg, callbacks=[PauseUntilSignalled()])
"""


def _weights(root: Path) -> dict:
    return torch.load(root / "artifacts/models/rnnsearch_30/last.ckpt", weights_only=True)


def _interrupted_child(tmp_path: Path, root: Path, overrides: list[str], sig: int,
                       fake_submitit: bool) -> tuple[int, str, Path]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(REPO_ROOT / "conf"), str(ready), str(STOP_AT),
         "1" if fake_submitit else "0", *overrides],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), proc.communicate()[0][-3000:]
    os.kill(proc.pid, sig)
    out, _ = proc.communicate(timeout=240)
    return proc.returncode, out, ready


@pytest.mark.parametrize(("sig", "fake_submitit", "exit_code"), [
    (signal.SIGTERM, False, 128 + signal.SIGTERM),
    (signal.SIGINT, False, 128 + signal.SIGINT),
    (signal.SIGUSR2, True, 140),  # submitit's handler requeues, its exit -1 is overruled: 128 + 12
])
def test_signal_checkpoints_current_update_and_rerun_resumes_exactly(
        train_cfg: Compose, tmp_path: Path, prepared_dir: Path, tiny_overrides: tuple[str, ...],
        uninterrupted: Path, caplog: pytest.LogCaptureFixture, sig: int, fake_submitit: bool,
        exit_code: int) -> None:
    root = tmp_path / "preempted"
    overrides = [f"paths.root_dir={root}", "logger=none", f"data.prepared_dir={prepared_dir}",
                 *tiny_overrides, *SCHEDULE]
    code, out, ready = _interrupted_child(tmp_path, root, overrides, sig, fake_submitit)
    name = signal.Signals(sig).name
    assert code == exit_code, out[-3000:]
    assert f"{name} at update {STOP_AT}: checkpoint saved to" in out, out[-3000:]
    saved = _weights(root)
    assert saved["global_step"] == STOP_AT  # the current update, not the periodic one (8)
    assert saved[FINGERPRINT_KEY] == _weights(uninterrupted)[FINGERPRINT_KEY]
    if fake_submitit:
        assert (ready.parent / (ready.name + ".requeued")).read_text() == name
    assert not (root / "artifacts/models/rnnsearch_30/summary.json").exists()  # not "finished"

    with caplog.at_level(logging.INFO, logger="rnnsearch.training.resume"):
        summary = run(train_cfg(*SCHEDULE, root=root))  # resume=auto picks up last.ckpt
    assert f"(update {STOP_AT})" in next(m for m in caplog.messages if m.startswith("resuming"))
    assert summary["updates"] == 14
    want, got = _weights(uninterrupted)["state_dict"], _weights(root)["state_dict"]
    assert want.keys() == got.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), key  # bit for bit, as the README says
    curves = (root / "reports/curves/rnnsearch_30.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in curves[1:]] == ["5", "10", "14"]
