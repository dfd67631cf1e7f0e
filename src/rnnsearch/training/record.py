"""Curves and learning statistics of a run (after JoeyNMT's `TrainStatistics`).

- `TrainingRecord` keeps the curve rows (one per validation) and the learning statistics of the
  paper's appendix table (updates, epochs, hours, train / dev NLL). Its state
  (`state_dict` / `load_state_dict`) is saved in every checkpoint, so a resumed run continues the
  same curve and clock.
- `ValidateAtEnd` makes the final weights get a validation (a curve row, a chance at best.ckpt).
- `UpdateStats` logs what learning-rate-free Adadelta actually does (App. B.2).
- `learning_summary` gives the appendix table's row.
Not responsible for what the model logs (lit_module.py) or checkpoint files (checkpointing.py).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig

from rnnsearch.io_utils import atomic_write_text, rows_csv
from rnnsearch.training.budget import UpdateBudget, timer_of
from rnnsearch.training.lit_module import logs_after_update, perplexity

CURVE_COLUMNS = ("step", "train/loss", "train/nll_sentence", "val/loss", "val/nll_sentence",
                 "val/ppl", "val/bleu_greedy")  # loss = NLL per token
BLEU_STEP = "val/bleu_step"  # callback metric: the update of the latest val/bleu_greedy


class TrainingRecord(Callback):
    """Curve rows at every validation (written to `curves_csv`) and the run's learning statistics.

    Args:
        curves_csv: where the curve CSV (columns `CURVE_COLUMNS`) is rewritten after each eval.
    """

    def __init__(self, curves_csv: Path) -> None:
        self.curves_csv = Path(curves_csv)
        self.rows: list[dict[str, float]] = []
        # (NLL sum, tokens, sentences) since the last eval, float64, summed on the training
        # device (read on the host only at a validation or a checkpoint)
        self._train_sums = torch.zeros(3, dtype=torch.float64)
        self.last_train_nll = math.nan  # per target token
        self.last_train_nll_sentence = math.nan  # per sentence (the paper's Table 2 unit)
        self._elapsed_before = 0.0  # seconds trained before this process (resume)
        self._t0: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        self._t0 = time.perf_counter()
        self._train_sums = self._train_sums.to(pl_module.device)  # once, not in an update

    @property
    def hours(self) -> float:
        """Training wall-clock time so far, across resumes."""
        now = 0.0 if self._t0 is None else time.perf_counter() - self._t0
        return (self._elapsed_before + now) / 3600.0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:  # noqa: D102
        update = torch.stack([outputs["nll_sum"].double(), outputs["n_tokens"].double(),
                              outputs["n_sentences"].double()])  # (3,)
        self._train_sums += update

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Append one curve row (before the checkpoint callbacks, which run last, save state)."""
        if trainer.sanity_checking:
            return
        nll, tokens, sentences = self._train_sums.tolist()
        if tokens > 0:
            self.last_train_nll = nll / tokens
            self.last_train_nll_sentence = nll / sentences
        self._train_sums = torch.zeros_like(self._train_sums)
        metrics = trainer.callback_metrics
        bleu_now = float(metrics.get(BLEU_STEP, -1.0)) == trainer.global_step
        row = {"step": trainer.global_step, "train/loss": self.last_train_nll,
               "train/nll_sentence": self.last_train_nll_sentence,
               "val/nll_sentence": float(metrics["val/nll_sentence"]),
               "val/loss": float(metrics["val/loss"]), "val/ppl": float(metrics["val/ppl"]),
               "val/bleu_greedy": float(metrics["val/bleu_greedy"]) if bleu_now else math.nan}
        self.rows = [r for r in self.rows if r["step"] < row["step"]] + [row]
        if trainer.is_global_zero:
            self.write_csv()

    def write_csv(self) -> None:
        """Rewrite the curve CSV atomically (NaN cells are left empty)."""
        cells = [{k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
                 for row in self.rows]
        atomic_write_text(self.curves_csv, rows_csv(cells, CURVE_COLUMNS))

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Rewrite the curves once more: a run resumed at its last update validates no more."""
        if trainer.is_global_zero and self.rows:
            self.write_csv()

    def state_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"rows": self.rows, "train_sums": self._train_sums.tolist(),
                "last_train_nll": self.last_train_nll,
                "last_train_nll_sentence": self.last_train_nll_sentence,
                "elapsed_s": self.hours * 3600.0}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: D102
        self.rows = list(state["rows"])
        self._train_sums = torch.tensor(state["train_sums"], dtype=torch.float64)
        self.last_train_nll = float(state["last_train_nll"])
        self.last_train_nll_sentence = float(state["last_train_nll_sentence"])
        self._elapsed_before, self._t0 = float(state["elapsed_s"]), None


class ValidateAtEnd(Callback):
    """Validate after the last update even when `max_steps` falls between validation points.

    Setting `should_stop` is Lightning's way to request a validation before stopping, so the
    final weights get a dev NLL, a curve row and a chance to become best.ckpt.
    """

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:  # noqa: D102
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


class UpdateStats(Callback):
    """Log ||delta theta|| / ||theta|| and Adadelta's mean per-weight step size.

    Adadelta has no learning rate: each weight moves by sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps)
    times its gradient (Zeiler 2012, App. B.2), so these two numbers replace the usual LR curve.
    Only computed on logging steps (it copies the weights once and reads Adadelta's state).
    """

    def __init__(self) -> None:
        self._before: list[torch.Tensor] | None = None

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:  # noqa: D102
        self._before = None
        if logs_after_update(trainer):
            self._before = [p.detach().clone() for p in pl_module.parameters()]

    @torch.no_grad()
    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:  # noqa: D102
        if self._before is None:
            return
        params = list(pl_module.parameters())
        delta = torch.stack([(p - b).norm() for p, b in zip(params, self._before, strict=True)])
        norm = torch.stack([p.norm() for p in params])
        pl_module.log("train/update_ratio", delta.norm() / norm.norm().clamp(min=1e-12))
        self._before = None
        step_size = self._adadelta_step_size(trainer.optimizers[0])
        if step_size is not None:
            pl_module.log("train/adadelta_step_size", step_size)

    @staticmethod
    def _adadelta_step_size(optimizer: torch.optim.Optimizer) -> torch.Tensor | None:
        """Mean over weights of sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps); None if not Adadelta."""
        total, count = 0.0, 0
        for group in optimizer.param_groups:
            for p in group["params"]:
                state = optimizer.state.get(p, {})
                if "acc_delta" not in state:
                    continue
                eps = group["eps"]
                ratio = (state["acc_delta"] + eps).sqrt() / (state["square_avg"] + eps).sqrt()
                total, count = total + float(ratio.sum()), count + ratio.numel()
        return torch.tensor(total / count) if count else None


def learning_summary(cfg: DictConfig, trainer: L.Trainer, record: TrainingRecord,
                     model_dir: Path) -> dict[str, Any]:
    """The appendix table's learning statistics (updates, epochs, hours, NLLs) and file paths."""
    best = next(c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint))
    dev_nll = float(best.best_model_score) if best.best_model_score is not None else float("nan")
    n_batches = trainer.num_training_batches
    return {
        "experiment": cfg.experiment_name, "seed": cfg.seed, "updates": trainer.global_step,
        "epochs": trainer.global_step / n_batches if n_batches else float("nan"),
        "hours": record.hours, "minutes": record.hours * 60.0, "device": _device_name(trainer),
        "train_nll_token": record.last_train_nll,
        "train_nll_sentence": record.last_train_nll_sentence,
        "dev_nll_token": dev_nll, "dev_nll_sentence": _dev_nll_sentence(record.rows, dev_nll),
        "dev_ppl": perplexity(dev_nll),
        "dev_ppl_last": perplexity(_final_dev_nll(record.rows, trainer.global_step)),
        "val_bleu_greedy": next((r["val/bleu_greedy"] for r in reversed(record.rows)
                                 if r["val/bleu_greedy"] == r["val/bleu_greedy"]), float("nan")),
        "best_ckpt": str(model_dir / "best.ckpt"), "last_ckpt": str(model_dir / "last.ckpt"),
        "stopped_early": bool(trainer.should_stop and trainer.global_step != trainer.max_steps),
        "stop_reason": stop_reason(trainer, trainer.max_steps),
        "budget": next((dict(c.record) for c in trainer.callbacks
                        if isinstance(c, UpdateBudget)), None),  # the count, and how chosen
    }


def stop_reason(trainer: L.Trainer, budget: int) -> str:
    """Why training ended: `update_budget` (`max_steps` reached: Table 2's count, the demo's, or
    the one sized to the time budget), `time_limit` (`trainer.max_time` fired first),
    `early_stopping` (the dev metric stopped improving for the patience), or `other` (an epoch
    limit, a batch limit or an interruption)."""
    if budget > 0 and trainer.global_step >= budget:
        return "update_budget"
    timer = timer_of(trainer)
    if timer is not None and timer.time_remaining() is not None and timer.time_remaining() <= 0:
        return "time_limit"
    early = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
    if early is not None and early.wait_count >= early.patience:
        return "early_stopping"
    return "other"


def _final_dev_nll(rows: list[dict[str, float]], step: int) -> float:
    """Dev NLL per token of the final weights (last.ckpt), NaN if they were not validated."""
    return float(rows[-1]["val/loss"]) if rows and rows[-1]["step"] == step else math.nan


def _dev_nll_sentence(rows: list[dict[str, float]], best_nll_token: float) -> float:
    """Dev NLL per sentence at the evaluation that made best.ckpt (its per-token dev NLL)."""
    best = [r for r in rows if math.isclose(r["val/loss"], best_nll_token, rel_tol=1e-6)]
    return float(best[-1]["val/nll_sentence"]) if best else math.nan


def _device_name(trainer: L.Trainer) -> str:
    """`cpu` or the GPU model (the appendix table's GPU column), times the number of devices."""
    device = trainer.strategy.root_device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return f"{trainer.world_size} x {name}" if trainer.world_size > 1 else name

