"""The Hydra entry point: multirun jobs, W&B offline runs, launcher / DDP / GPU configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy
from omegaconf import DictConfig
from tests.conftest import compose_config

from rnnsearch.training.fit import build_trainer, run

pytestmark = pytest.mark.timeout(600)  # an entry point's subprocess may take 240 s

Compose = Callable[..., DictConfig]


def test_multirun_gives_each_job_its_own_dir(tmp_path: Path, prepared_dir: Path,
                                             tiny_overrides: tuple[str, ...]) -> None:
    cmd = [sys.executable, "-m", "rnnsearch.train", "-m",
           "experiment=rnnsearch_30,rnnencdec_30", "seed=1", f"paths.root_dir={tmp_path}",
           f"data.prepared_dir={prepared_dir}", "logger=none", *tiny_overrides,
           "trainer.max_steps=2", "trainer.val_check_interval=2",
           "hydra.sweep.dir=" + str(tmp_path / "sweep")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert jobs == ["0_rnnsearch_30_seed1", "1_rnnencdec_30_seed1"]
    for job in jobs:
        summary = json.loads((tmp_path / "sweep" / job / "summary.json").read_text())
        assert summary["updates"] == 2 and summary["seed"] == 1
        assert (tmp_path / "sweep" / job / "last.ckpt").is_file()
        assert (tmp_path / "sweep" / job / "curves.csv").is_file()
    assert not (tmp_path / "artifacts" / "models").exists()  # the DVC outputs are untouched
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()


def test_wandb_offline_run_has_config_and_metrics(train_cfg: Compose, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline must be the default
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # any network use would fail
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    cfg = train_cfg("experiment=rnnsearch_30", "logger=wandb", "trainer.max_steps=3",
                    "optim=adadelta", "logger.n_sample_translations=2")
    assert cfg.logger.mode == "offline"
    run(cfg)
    runs = list((tmp_path / "artifacts" / "wandb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    # Offline runs keep config and history in the run's transaction log until `wandb sync`.
    (log_file,) = runs[0].glob("run-*.wandb")
    record = log_file.read_bytes()
    for key in ("rnnsearch_30", "hidden_dim", "train/loss", "val/loss", "val/ppl",
                "val/bleu_greedy", "train/grad_norm", "train/adadelta_step_size"):
        assert key.encode() in record, key
    media = runs[0] / "files" / "media"
    assert list(media.glob("table/val/samples_*.table.json"))  # sample translations
    assert list(media.glob("images/val/attention_*.png"))  # alignment heat maps


def test_ddp_trainer_config_composes_and_builds(train_cfg: Compose, tmp_path: Path) -> None:
    cfg = train_cfg("trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2")
    trainer = build_trainer(cfg, tmp_path, [], None)
    assert isinstance(trainer.strategy, DDPStrategy)
    assert trainer.num_devices == 2 and trainer.world_size == 2


def test_gpu_trainer_is_fp32_without_tf32(train_cfg: Compose) -> None:
    cfg = train_cfg("trainer=gpu")  # the paper recipe (GroundHog trained in float32)
    assert cfg.trainer.precision == "32-true" and not cfg.trainer.tf32
    assert cfg.trainer.accelerator == "gpu"


def test_gpu_bf16_trainer_is_the_labelled_speed_switch(train_cfg: Compose) -> None:
    cfg = train_cfg("trainer=gpu_bf16")
    assert cfg.trainer.precision == "bf16-mixed" and cfg.trainer.accelerator == "gpu"
    assert cfg.trainer.val_check_interval == train_cfg("trainer=gpu").trainer.val_check_interval


def test_training_turns_tf32_off(train_cfg: Compose) -> None:
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        run(train_cfg("experiment=rnnencdec_30"))
        assert not torch.backends.cuda.matmul.allow_tf32
        assert not torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32 = True  # torch's default


def test_slurm_launcher_and_hydra_dirs_compose(tmp_path: Path) -> None:
    cfg = compose_config("ROOT", "hydra/launcher=slurm", "experiment=rnnsearch_50",
                         return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.gpus_per_node == 1
    assert cfg.hydra.job.chdir is False
    assert cfg.hydra.run.dir.startswith("ROOT/artifacts/hydra/")
    assert cfg.hydra.sweep.dir.startswith("ROOT/artifacts/hydra/multirun/")
