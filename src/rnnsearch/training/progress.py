"""Progress reports: the live bar with an ETA, or one log line every n updates."""

from __future__ import annotations

import logging
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar

log = logging.getLogger(__name__)


class EtaProgressBar(TQDMProgressBar):
    """The TQDM bar plus `eta` (h:mm:ss) to `trainer.max_steps` from the rate of this process.

    The training values (`TRAIN_KEYS`) are logged without `prog_bar`: Lightning converts every
    prog_bar value to a float after each update, a host read that stalls a GPU. The bar reads
    them itself after logging steps (which sync anyway) and shows them until the next.
    """

    TRAIN_KEYS = ("train/loss", "train/tok_s")

    def __init__(self, refresh_rate: int = 1) -> None:
        super().__init__(refresh_rate=refresh_rate)
        self._start: tuple[float, int] | None = None
        self._train: dict[str, float] = {}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:  # noqa: D102
        every = trainer.log_every_n_steps
        if every > 0 and trainer.global_step % every == 0:
            metrics = trainer.callback_metrics
            self._train = {k: float(metrics[k]) for k in self.TRAIN_KEYS if k in metrics}
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:  # noqa: D102
        items = {**super().get_metrics(trainer, pl_module), **self._train}
        items.pop("v_num", None)
        step, now = trainer.global_step, time.perf_counter()
        if self._start is None:
            self._start = (now, step)
        done = step - self._start[1]
        if trainer.max_steps > 0 and done > 0:
            left = (trainer.max_steps - step) * (now - self._start[0]) / done
            items["eta"] = time.strftime("%H:%M:%S", time.gmtime(max(left, 0.0)))
        return items


class ProgressLines(Callback):
    """Where stdout is no terminal (DVC, SLURM, CI logs), one compact line every `every` updates
    instead of the live bar's carriage-return frames."""

    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self._start: tuple[float, int] | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:  # noqa: D102
        step, now = trainer.global_step, time.perf_counter()
        if self._start is None:
            self._start = (now, step)
        if step % self.every or not trainer.is_global_zero:
            return
        rate = (step - self._start[1]) / max(now - self._start[0], 1e-9)  # updates/s
        left = (trainer.max_steps - step) / rate if trainer.max_steps > 0 and rate > 0 else 0.0
        loss = trainer.callback_metrics.get("train/loss")
        val = trainer.callback_metrics.get("val/loss")
        log.info("step %d/%s  train NLL/token %s  dev NLL/token %s  %.1f updates/s  eta %s",
                 step, trainer.max_steps if trainer.max_steps > 0 else "?",
                 f"{float(loss):.3f}" if loss is not None else "-",
                 f"{float(val):.3f}" if val is not None else "-", rate,
                 time.strftime("%H:%M:%S", time.gmtime(left)))

