"""A run's update budget (ours): given as a count, or sized to its time budget, then fixed.

`scale=demo` and `scale=paper` give each model its update count (`trainer.max_steps`,
`trainer.max_steps_by_experiment`: Table 2's, or the demo's ratios). `scale=real` gives each model
time instead (`trainer.max_time`): `UpdateBudget` times the first `trainer.budget_window` updates
on Lightning's Timer, the clock `max_time` stops by (validations and checkpoints included), and
fixes as `max_steps`, the stop and the end of the cosine decay (`cosine_decay`), the count that
fills `trainer.budget_margin` x `max_time`: the window's updates, then as many as the time left
holds at the window's speed after its first `trainer.budget_warmup` updates (start-up costs, such
as the compilation with `model.compile`, are paid once and are not the speed to come). The
count is saved in every checkpoint (a resumed run keeps it) and in summary.json with how it was
chosen; passed back as
`trainer.max_steps` it replays the run, because choosing it reads a clock and nothing else (no
random numbers, no tensors).
Not responsible for the stop by time (Lightning's Timer) or by patience (EarlyStopping, trainer.py).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import hydra
import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, Timer
from omegaconf import DictConfig

from rnnsearch.config_checks import update_budget
from rnnsearch.training.checkpointing import validation_due

log = logging.getLogger(__name__)


class UpdateBudget(Callback):
    """The run's `max_steps`: the configured count, or one estimated after `window` updates.

    Args:
        given: the configured count (`config_checks.update_budget`); <= 0: none given.
        source: the key that gave it, as summary.json records it.
        window: updates timed before the count is estimated (0: never estimated). The cosine
            decay holds the rate for these updates whether the count is given or estimated, so a
            replay of an estimated count (`trainer.max_steps=<n>`) follows the same schedule.
        margin: the fraction of `max_time` the estimated count is sized to fill (the rest is for
            the final validation and a machine that gets busier).
        warmup: the window's first updates, left out of its speed (0: the whole window).
    """

    def __init__(self, given: int, source: str, window: int, margin: float,
                 warmup: int = 0) -> None:
        self.window, self.margin, self.warmup = window, margin, warmup
        self.estimates = given <= 0 and window > 0
        chosen_by = source if given > 0 else ("trainer.max_time" if self.estimates else "none")
        self.record: dict[str, Any] = {"updates": given if given > 0 else None,
                                       "chosen_by": chosen_by, "window_updates": window}
        self._trainer: L.Trainer | None = None

    @classmethod
    def from_config(cls, cfg: DictConfig) -> UpdateBudget:  # noqa: D102
        t = cfg.trainer
        by_experiment = cfg.experiment_name in t.max_steps_by_experiment
        source = (f"trainer.max_steps_by_experiment.{cfg.experiment_name}" if by_experiment
                  else "trainer.max_steps")
        return cls(update_budget(cfg), source, t.budget_window, t.budget_margin, t.budget_warmup)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:  # noqa: D102
        self._trainer = trainer  # a resumed count is applied while the checkpoint loads

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        """After update `warmup`: note the clock. After update `window`: estimate now, or after
        its validation if one is due (so its time counts, as it will at every later
        validation). Both run before the checkpoint callbacks (Lightning runs those last), so a
        checkpoint at `window` holds the count."""
        if self._unfixed() and self.warmup and trainer.global_step == self.warmup:
            self.record["warmup_seconds"] = timer_of(trainer).time_elapsed()
        if self._pending(trainer) and not validation_due(trainer):
            self._estimate(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        if not trainer.sanity_checking and self._pending(trainer):
            self._estimate(trainer)

    def _pending(self, trainer: L.Trainer) -> bool:
        return self._unfixed() and trainer.global_step >= self.window

    def _unfixed(self) -> bool:
        """The count is to be estimated and is not fixed yet."""
        return self.estimates and self.record["updates"] is None

    def _estimate(self, trainer: L.Trainer) -> None:
        """Fix `max_steps` at the count that fills `margin` x `max_time`: the updates so far,
        then the time left at the speed measured since update `warmup`."""
        timer = timer_of(trainer)
        elapsed, step = timer.time_elapsed(), trainer.global_step
        max_time_s = elapsed + timer.time_remaining()
        timed_from = self.warmup if "warmup_seconds" in self.record else 0
        per_update = max(elapsed - self.record.get("warmup_seconds", 0.0), 1e-6) / (
            step - timed_from)
        left = math.floor((self.margin * max_time_s - elapsed) / per_update)
        updates = step + max(1, left)
        record = {**self.record, "updates": updates, "window_updates": step,
                  "window_seconds": elapsed, "timed_from_update": timed_from,
                  "seconds_per_update": per_update, "max_time_seconds": max_time_s,
                  "margin": self.margin}
        self.record = trainer.strategy.broadcast(record, src=0)  # every DDP rank: rank 0's
        self._apply(trainer)
        log.info("update budget: %d updates (%.3f s per update over updates %d-%d, %.0f s of "
                 "max_time x %.2f)", updates, per_update, timed_from + 1, step, max_time_s,
                 self.margin)

    def _apply(self, trainer: L.Trainer) -> None:
        trainer.fit_loop.epoch_loop.max_steps = int(self.record["updates"])

    def state_dict(self) -> dict[str, Any]:  # noqa: D102
        return dict(self.record)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """A resumed run keeps the count its checkpoint fixed, or the clock it noted after
        update `warmup` (a given count wins)."""
        if self.estimates and state.get("updates") is not None:
            self.record = dict(state)
            if self._trainer is not None:  # before the loops restore, as a given count would be
                self._apply(self._trainer)
        elif self.estimates and "warmup_seconds" in state:
            self.record["warmup_seconds"] = state["warmup_seconds"]


def timer_of(trainer: L.Trainer) -> Timer | None:
    """Lightning's Timer, the clock `max_time` stops by; None for a run without `max_time`."""
    return next((c for c in trainer.callbacks if isinstance(c, Timer)), None)


def cosine_decay(optimizer: torch.optim.Optimizer, trainer: L.Trainer, lr_min_ratio: float
                 ) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-update factor on the rate: 1 for the `UpdateBudget` window (the count may be unknown
    until its end; none without one), then a cosine from 1 to `lr_min_ratio` at `max_steps`,
    read when each update's rate is set (an estimated count is fixed by then)."""
    hold = next((c.window for c in trainer.callbacks if isinstance(c, UpdateBudget)), 0)
    floor = lr_min_ratio

    def factor(step: int) -> float:  # 1 at update 0 (or until hold), floor at the last update
        total = trainer.max_steps
        if hold and (step <= hold or total <= hold):
            return 1.0
        # hold 0: the same float operations, in the same order, as before the window existed
        angle = math.pi * (min(step, total) - hold) / (total - hold)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(angle))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def optimizer_and_schedule(optim_cfg: Any, module: L.LightningModule) -> Any:
    """Lightning's `configure_optimizers` value: Adadelta (or the configured optimizer) from
    `optim.optimizer` (`_partial_`), and with `optim.lr_decay: cosine` a per-update cosine decay
    of the rate to `lr_min_ratio` x lr at the run's last update (`trainer.max_steps`, given or
    sized to the time budget; the config is refused without either)."""
    optimizer = hydra.utils.instantiate(optim_cfg["optimizer"])(module.model.parameters())
    if optim_cfg["lr_decay"] == "none":
        return optimizer
    schedule = cosine_decay(optimizer, module.trainer, optim_cfg["lr_min_ratio"])
    return {"optimizer": optimizer,
            "lr_scheduler": {"scheduler": schedule, "interval": "step", "frequency": 1}}
