"""The one place where a run's Lightning Trainer is assembled (after lightning-hydra-template).

`build_trainer` adds to the run's own callbacks the update statistics, the final validation,
best.ckpt on the lowest dev NLL (Lightning's ModelCheckpoint), the periodic and preemption
checkpoints, the update budget (given, or sized to the time budget: budget.py), optional early
stopping (on dev NLL or greedy dev BLEU) and the progress report, with gradient clipping
(App. B.2: norm 1) and the atomic checkpoint writer.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig

from rnnsearch.training.budget import UpdateBudget
from rnnsearch.training.checkpointing import (
    AtomicCheckpointIO,
    PeriodicCheckpoint,
    PreemptionCheckpoint,
)
from rnnsearch.training.progress import EtaProgressBar, ProgressLines
from rnnsearch.training.record import UpdateStats, ValidateAtEnd

# trainer.early_stopping_metric -> (logged metric, better when): patience counts validations
EARLY_STOPPING_MONITORS = {"dev_loss": ("val/loss", "min"), "dev_bleu": ("val/bleu_greedy", "max")}


def build_trainer(cfg: DictConfig, model_dir: Path, callbacks: list[Callback],
                  tracker: Any) -> L.Trainer:
    """The Lightning Trainer: clipping, checkpoints, early stopping, progress bar."""
    t = cfg.trainer
    periodic = PeriodicCheckpoint(model_dir, t.checkpoint_every_n_steps, t.keep_last_checkpoints)
    budget = UpdateBudget.from_config(cfg)  # given, or sized to max_time (scale=real)
    callbacks = [*callbacks, budget, UpdateStats(), ValidateAtEnd(),
                 ModelCheckpoint(dirpath=model_dir, filename="best", monitor="val/loss",
                                 mode="min", save_top_k=1, save_on_train_epoch_end=False,
                                 auto_insert_metric_name=False, enable_version_counter=False),
                 periodic,
                 PreemptionCheckpoint(periodic)]  # last: after best.ckpt and the step save
    if t.early_stopping_patience:
        monitor, mode = EARLY_STOPPING_MONITORS[t.early_stopping_metric]
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode,
                                       patience=t.early_stopping_patience,
                                       check_on_train_epoch_end=False))
    live_bar = t.enable_progress_bar and sys.stdout.isatty()
    if live_bar:
        callbacks.append(EtaProgressBar())
    elif t.enable_progress_bar:
        callbacks.append(ProgressLines(t.log_every_n_steps))
    return L.Trainer(
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
        precision=t.precision, max_steps=budget.record["updates"] or -1,
        max_epochs=t.max_epochs,
        max_time=t.max_time, val_check_interval=t.val_check_interval,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        limit_train_batches=t.limit_train_batches, limit_val_batches=t.limit_val_batches,
        log_every_n_steps=t.log_every_n_steps, num_sanity_val_steps=t.num_sanity_val_steps,
        deterministic=t.deterministic, enable_progress_bar=live_bar,
        gradient_clip_val=cfg.optim.grad_clip_norm, gradient_clip_algorithm="norm",
        callbacks=callbacks, logger=tracker or False, default_root_dir=str(model_dir),
        plugins=[AtomicCheckpointIO()], use_distributed_sampler=False,  # our sampler shards
    )

