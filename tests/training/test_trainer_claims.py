"""What the real Lightning Trainer does with the config: the clip at norm 1 (App. B.2), the
per-experiment update budget and early stopping (RNNsearch-50*, Sec. 4.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from omegaconf import DictConfig

from rnnsearch.training.fit import run
from rnnsearch.training.trainer import build_trainer

Compose = Callable[..., DictConfig]


def _grad_norm(module: L.LightningModule) -> float:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g)
                                                       for g in grads])))


class GradNorms(Callback):
    """The gradient norm before Lightning clips it and at the optimizer step's end (the same
    gradients the step used: they are zeroed only before the next backward)."""

    def __init__(self) -> None:
        self.before: list[float] = []
        self.after: list[float] = []

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: Any) -> None:  # noqa: D102
        self.before.append(_grad_norm(pl_module))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           *args: Any) -> None:  # noqa: D102
        self.after.append(_grad_norm(pl_module))


def test_trainer_clips_at_norm_one_and_uses_the_experiments_budget(train_cfg: Compose) -> None:
    """App. B.2: the L2 norm of the gradient is clipped to at most 1 (optim.grad_clip_norm);
    trainer.max_steps_by_experiment wins over trainer.max_steps."""
    cfg = train_cfg("experiment=rnnsearch_30", "optim.loss_scale=sum", "trainer.max_steps=6",
                    "+trainer.max_steps_by_experiment.rnnsearch_30=4",
                    "+trainer.max_steps_by_experiment.rnnencdec_30=9")
    norms = GradNorms()
    summary = run(cfg, callbacks=[norms])
    assert summary["updates"] == 4 and len(norms.after) == 4
    assert cfg.optim.grad_clip_norm == 1.0 and max(norms.before) > 2.0  # summed NLL: big
    for before, after in zip(norms.before, norms.after, strict=True):
        assert abs(after - min(before, 1.0)) < 1e-4 * max(1.0, before), (before, after)


def test_rnnsearch_50star_stops_on_dev_loss(compose_cfg: Compose, train_cfg: Compose,
                                            tmp_path) -> None:
    """RNNsearch-50* has no update budget; EarlyStopping on val/loss ends it."""
    star = compose_cfg("experiment=rnnsearch_50star")
    assert star.trainer.max_steps == -1 and star.trainer.early_stopping_patience == 10
    (stop,) = [c for c in build_trainer(star, tmp_path, [], None).callbacks
               if isinstance(c, EarlyStopping)]
    assert (stop.monitor, stop.mode, stop.patience) == ("val/loss", "min", 10)
    cfg = train_cfg("experiment=rnnsearch_50star", "trainer.max_steps=-1",
                    "trainer.max_epochs=50", "trainer.early_stopping_patience=1",
                    "trainer.val_check_interval=1", "optim=adam", "optim.optimizer.lr=1.0",
                    "optim.lr_decay=none")
    summary = run(cfg)
    assert summary["stopped_early"] and 2 <= summary["updates"] < 50 * 12
