"""`checkpointing.validation_due` predicts exactly the updates after which Lightning validates.

The periodic and preemption checkpoints wait for a due validation before saving; a wrong
prediction would save before it (the resumed run then loses that validation) or never save.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import pytest
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.demos.boring_classes import BoringModel

from rnnsearch.training.checkpointing import validation_due


class Recorder(Callback):
    """The updates `validation_due` names, and those Lightning validated after."""

    def __init__(self, stop_at: int | None) -> None:
        self.stop_at = stop_at
        self.predicted: list[int] = []
        self.validated: list[int] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:  # noqa: D102
        if trainer.global_step == self.stop_at:
            trainer.should_stop = True  # as EarlyStopping or a stop signal would
        if validation_due(trainer):
            self.predicted.append(trainer.global_step)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        if not trainer.sanity_checking:
            self.validated.append(trainer.global_step)


@pytest.mark.parametrize(("interval", "every_n_epochs", "stop_at"), [
    (4, None, None),  # the project's step-based validation, across epoch boundaries
    (5, None, 7),  # a stop request validates at once
    (1.0, 1, None),  # once per epoch, at its last batch
    (0.5, 1, None),  # twice per epoch
    (2, 2, None),  # every 2 batches of every second epoch
])
def test_validation_due_agrees_with_lightning(tmp_path, interval: float,
                                              every_n_epochs: int | None,
                                              stop_at: int | None) -> None:
    recorder = Recorder(stop_at)
    trainer = L.Trainer(max_steps=20, limit_train_batches=6, limit_val_batches=1,
                        val_check_interval=interval, check_val_every_n_epoch=every_n_epochs,
                        callbacks=[recorder], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, default_root_dir=tmp_path, accelerator="cpu")
    trainer.fit(BoringModel())
    assert recorder.validated, "the schedule validates at least once"
    assert recorder.predicted == recorder.validated
