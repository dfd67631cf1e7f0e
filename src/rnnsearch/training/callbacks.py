"""The Lightning Trainer for a run and its callbacks: curves, update stats, ETA, safe checkpoints.

- `TrainingRecord` keeps the curve rows (one per validation) and the learning statistics of the
  paper's appendix table (updates, epochs, hours, train / dev NLL). Its state is saved in every
  checkpoint, so a resumed run continues the same curve and clock.
- `UpdateStats` logs what learning-rate-free Adadelta actually does (App. B.2).
- `ValidateAtEnd` makes the final weights get a validation; `PeriodicCheckpoint` keeps
  step checkpoints and last.ckpt.
- `EtaProgressBar` adds the remaining time to `trainer.max_steps`.
- `AtomicCheckpointIO` writes a checkpoint to a temporary file in the target directory and renames
  it (Lightning's own writer stages the bytes in the system temp dir and `shutil.move`s them,
  which degrades to a non-atomic copy across file systems), and loads with `weights_only=True`.
  A failed write (full disk) keeps the previous file and raises one line naming the path.
- `PreemptionCheckpoint`: SIGTERM / SIGINT / SIGUSR2 (SLURM preemption, `timeout`, Ctrl-C,
  submitit's pre-timeout signal) -> a checkpoint at the current update, then exit 128 + signum.
- `training_fingerprint` / `ResumeStamp` / `resume_checkpoint`: every checkpoint records what it
  was trained from (model, optim and data config, seed, prepared data, training code); a rerun
  resumes only from a matching last.ckpt and sets any other aside (ours: DVC reruns the stage).
`build_trainer` assembles them with gradient clipping (App. B.2: norm 1), best.ckpt on the lowest
dev NLL and optional early stopping; `learning_summary` gives the appendix table's row.
Not responsible for what the model logs (lit_module.py) or where files go (train.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    ModelCheckpoint,
    Timer,
    TQDMProgressBar,
)
from omegaconf import DictConfig, OmegaConf

from rnnsearch.data.guards import prepared_data_hash
from rnnsearch.io_utils import atomic_path, atomic_write_text
from rnnsearch.training.lit_module import perplexity

log = logging.getLogger(__name__)
CURVE_COLUMNS = ("step", "train/loss", "train/nll_sentence", "val/loss", "val/nll_sentence",
                 "val/ppl", "val/bleu_greedy")  # loss = NLL per token


class TrainingRecord(Callback):
    """Curve rows at every validation (written to `curves_csv`) and the run's learning statistics.

    Args:
        curves_csv: where the curve CSV (columns `CURVE_COLUMNS`) is rewritten after each eval.
    """

    def __init__(self, curves_csv: Path) -> None:
        self.curves_csv = Path(curves_csv)
        self.rows: list[dict[str, float]] = []
        self._train_sums = [0.0, 0.0, 0.0]  # (NLL sum, tokens, sentences) since the last eval
        self.last_train_nll = math.nan  # per target token
        self.last_train_nll_sentence = math.nan  # per sentence (the paper's Table 2 unit)
        self._elapsed_before = 0.0  # seconds trained before this process (resume)
        self._t0: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        self._t0 = time.perf_counter()

    @property
    def hours(self) -> float:
        """Training wall-clock time so far, across resumes."""
        now = 0.0 if self._t0 is None else time.perf_counter() - self._t0
        return (self._elapsed_before + now) / 3600.0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:  # noqa: D102
        self._train_sums[0] += float(outputs["nll_sum"])
        self._train_sums[1] += float(outputs["n_tokens"])
        self._train_sums[2] += float(outputs["n_sentences"])

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Append one curve row (before the checkpoint callbacks, which run last, save state)."""
        if trainer.sanity_checking:
            return
        if self._train_sums[1] > 0:
            self.last_train_nll = self._train_sums[0] / self._train_sums[1]
            self.last_train_nll_sentence = self._train_sums[0] / self._train_sums[2]
        self._train_sums = [0.0, 0.0, 0.0]
        metrics = trainer.callback_metrics
        bleu_now = getattr(pl_module, "bleu_step", None) == trainer.global_step
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
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CURVE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else v
                             for k, v in row.items()})
        atomic_write_text(self.curves_csv, buf.getvalue())

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Rewrite the curves once more: a run resumed at its last update validates no more."""
        if trainer.is_global_zero and self.rows:
            self.write_csv()

    def state_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"rows": self.rows, "train_sums": list(self._train_sums),
                "last_train_nll": self.last_train_nll,
                "last_train_nll_sentence": self.last_train_nll_sentence,
                "elapsed_s": self.hours * 3600.0}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: D102
        self.rows = list(state["rows"])
        self._train_sums = list(state["train_sums"])
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
    Only computed on logging steps (it copies the weights once).
    """

    def __init__(self) -> None:
        self._before: list[torch.Tensor] | None = None

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:  # noqa: D102
        self._before = None
        if (trainer.global_step + 1) % max(trainer.log_every_n_steps, 1) == 0:
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


class EtaProgressBar(TQDMProgressBar):
    """The TQDM bar plus `eta` (h:mm:ss) to `trainer.max_steps` from the rate of this process."""

    def __init__(self, refresh_rate: int = 1) -> None:
        super().__init__(refresh_rate=refresh_rate)
        self._start: tuple[float, int] | None = None

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:  # noqa: D102
        items = super().get_metrics(trainer, pl_module)
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


class PeriodicCheckpoint(Checkpoint):
    """Every n updates and at the end: checkpoints/step<N>.ckpt (newest `keep` kept) + last.ckpt.

    Lightning's ModelCheckpoint(monitor="step") defers a save on an epoch's last batch to a
    validation that, with step-based validation, may never come; this one always saves on time.
    last.ckpt is a hard link to the newest step file, swapped in with an atomic rename.
    When a validation is due after the same update, the save waits for its end: Lightning
    resumes a checkpoint written at a batch end *after* that batch's validation, so saving
    before it would lose the validation (curve row and best.ckpt choice) on resume.

    Args:
        dirpath: the model directory.
        every_n_steps: save interval in updates.
        keep: how many step files to keep.
    """

    def __init__(self, dirpath: Path, every_n_steps: int, keep: int) -> None:
        self.dirpath, self.every, self.keep = Path(dirpath), every_n_steps, max(keep, 1)
        self._saved_step = -1
        self._pending = False

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:  # noqa: D102
        if self.every > 0 and trainer.global_step % self.every == 0:
            if validation_due(trainer):
                self._pending = True
            else:
                self.save(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        if self._pending and not trainer.sanity_checking:
            self._pending = False
            self.save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        self.save(trainer)  # the final weights, whatever the interval (not after a crash)

    def save(self, trainer: L.Trainer) -> None:
        """Write the step checkpoint, point last.ckpt at it, drop the oldest step files."""
        step = trainer.global_step
        if step == self._saved_step:
            return
        path = self.dirpath / "checkpoints" / f"step{step:07d}.ckpt"
        trainer.save_checkpoint(path, weights_only=False)  # all ranks; rank 0 writes
        self._saved_step = step
        if not trainer.is_global_zero:
            return
        with atomic_path(self.dirpath / "last.ckpt") as tmp:
            tmp.unlink()
            try:
                os.link(path, tmp)
            except OSError:  # no hard links on this file system
                shutil.copyfile(path, tmp)
        for old in sorted(path.parent.glob("step*.ckpt"))[: -self.keep]:
            old.unlink()


def validation_due(trainer: L.Trainer) -> bool:
    """Whether Lightning validates after the update that just ended (before the next one)."""
    loop = trainer.fit_loop
    try:  # Lightning's own decision; private, hence the fallback
        return bool(loop.epoch_loop._should_check_val_fx(loop._data_fetcher))
    except AttributeError:  # other Lightning versions: step-based validation only
        every = trainer.val_check_batch
        return bool(trainer.should_stop) or (
            isinstance(every, int) and every > 0 and trainer.global_step % every == 0)


class PreemptionCheckpoint(Checkpoint):
    """On SIGTERM / SIGINT / SIGUSR2: checkpoint at the current update, then exit 128 + signum.

    SLURM preemption and `timeout` send SIGTERM, Ctrl-C is SIGINT, and submitit (the SLURM
    launcher, conf/hydra/launcher/slurm.yaml) sends SIGUSR2 `signal_delay_s` before the time limit.
    The handler only records the signal; at the end of the running update (after its validation
    if one is due; hence a `Checkpoint`, which Lightning runs after ModelCheckpoint) the checkpoint
    is written by `PeriodicCheckpoint.save` (step file + last.ckpt), a Python handler installed
    before ours for that signal runs (submitit's requeues the job), and the process exits
    non-zero, so `dvc repro` never records an interrupted stage as done. The rerun resumes from
    last.ckpt (train.py, resume=auto). A second Ctrl-C interrupts at once. Handlers are installed
    when training starts (after Lightning's) and restored when it ends.
    """

    SIGNALS = ("SIGTERM", "SIGINT", "SIGUSR2")

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        self.received = None
        try:
            for name in self.SIGNALS:
                if hasattr(signal, name):
                    signum = getattr(signal, name)
                    self._previous[signum] = signal.signal(signum, self._on_signal)
        except ValueError:  # not the main thread: signals cannot be caught here
            self._restore()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.received is not None:
            raise KeyboardInterrupt
        self.received = signum

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:  # noqa: D102
        if not validation_due(trainer):
            self._stop_if_signalled(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        if not trainer.sanity_checking and trainer.state.fn == "fit":  # not trainer.validate()
            self._stop_if_signalled(trainer)

    def _stop_if_signalled(self, trainer: L.Trainer) -> None:
        stop = trainer.strategy.reduce_boolean_decision(self.received is not None, all=False)
        if not stop:
            return
        signum = self.received if self.received is not None else signal.SIGTERM  # another rank's
        saver = next(c for c in trainer.callbacks if isinstance(c, PeriodicCheckpoint))
        saver.save(trainer)
        log.warning("%s at update %d: checkpoint saved to %s; exiting with %d (rerun to resume)",
                    signal.Signals(signum).name, trainer.global_step, saver.dirpath / "last.ckpt",
                    128 + signum)
        previous = self._previous.get(signum)
        self._restore()
        if callable(previous) and previous is not signal.default_int_handler:
            previous(signum, None)  # submitit's SIGUSR2 handler requeues the job and exits
        sys.stdout.flush()
        raise SystemExit(128 + signum)

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule,
                     exception: BaseException) -> None:  # noqa: D102
        self._restore()


class _ErrorKeepingWriter:
    """A file wrapper that remembers the OSError of a failed write (torch.save hides it)."""

    def __init__(self, fh: Any) -> None:
        self.fh, self.error = fh, None

    def write(self, data: bytes) -> int:
        try:
            return self.fh.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.fh.flush()


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written atomically beside their final name and read with weights_only=True.

    A failed write (ENOSPC) leaves the previous file and raises `io_utils.OutputWriteError`,
    one line naming the checkpoint path.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:  # noqa: D102
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            out = _ErrorKeepingWriter(fh)
            try:
                torch.save(checkpoint, out)  # type: ignore[arg-type]
            except RuntimeError:  # torch reports a failed write as "unexpected pos ..."
                if out.error is None:
                    raise
                raise out.error from None

    def load_checkpoint(self, path: Any, map_location: Any | None = None,
                        weights_only: bool | None = None) -> dict[str, Any]:  # noqa: D102
        if not Path(path).is_file():
            raise FileNotFoundError(f"checkpoint {path} not found")
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)


def update_budget(cfg: DictConfig) -> int:
    """`trainer.max_steps`, or this experiment's entry of `trainer.max_steps_by_experiment`."""
    return int(cfg.trainer.max_steps_by_experiment.get(cfg.experiment_name,
                                                       cfg.trainer.max_steps))


def stop_reason(trainer: L.Trainer, budget: int) -> str:
    """Why training ended: `update_budget` (Table 2's count reached), `time_limit` (the
    `trainer.max_time` safety net fired first), `early_stopping` (dev stopped improving),
    or `other` (an epoch limit, a batch limit or an interruption)."""
    if budget > 0 and trainer.global_step >= budget:
        return "update_budget"
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if timer is not None and timer.time_remaining() is not None and timer.time_remaining() <= 0:
        return "time_limit"
    early = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
    if early is not None and early.wait_count >= early.patience:
        return "early_stopping"
    return "other"


def build_trainer(cfg: DictConfig, model_dir: Path, callbacks: list[Callback],
                  tracker: Any) -> L.Trainer:
    """The Lightning Trainer: clipping, checkpoints, early stopping, progress bar."""
    t = cfg.trainer
    callbacks = [*callbacks, UpdateStats(), ValidateAtEnd(),
                 ModelCheckpoint(dirpath=model_dir, filename="best", monitor="val/loss",
                                 mode="min", save_top_k=1, save_on_train_epoch_end=False,
                                 auto_insert_metric_name=False, enable_version_counter=False),
                 PeriodicCheckpoint(model_dir, t.checkpoint_every_n_steps,
                                    t.keep_last_checkpoints),
                 PreemptionCheckpoint()]  # last: after the validation's best.ckpt and step save
    if t.early_stopping_patience:
        callbacks.append(EarlyStopping(monitor="val/loss", mode="min",
                                       patience=t.early_stopping_patience,
                                       check_on_train_epoch_end=False))
    live_bar = t.enable_progress_bar and sys.stdout.isatty()
    if live_bar:
        callbacks.append(EtaProgressBar())
    elif t.enable_progress_bar:
        callbacks.append(ProgressLines(t.log_every_n_steps))
    return L.Trainer(
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
        precision=t.precision, max_steps=update_budget(cfg), max_epochs=t.max_epochs,
        max_time=t.max_time, val_check_interval=t.val_check_interval,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        limit_train_batches=t.limit_train_batches, limit_val_batches=t.limit_val_batches,
        log_every_n_steps=t.log_every_n_steps, num_sanity_val_steps=t.num_sanity_val_steps,
        deterministic=t.deterministic, enable_progress_bar=live_bar,
        gradient_clip_val=cfg.optim.grad_clip_norm, gradient_clip_algorithm="norm",
        callbacks=callbacks, logger=tracker or False, default_root_dir=str(model_dir),
        plugins=[AtomicCheckpointIO()], use_distributed_sampler=False,  # our sampler shards
    )


def learning_summary(cfg: DictConfig, trainer: L.Trainer, record: TrainingRecord,
                     model_dir: Path) -> dict[str, Any]:
    """The appendix table's learning statistics (updates, epochs, hours, NLLs) and file paths."""
    best = next(c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint))
    dev_nll = float(best.best_model_score) if best.best_model_score is not None else float("nan")
    n_batches = trainer.num_training_batches
    return {
        "experiment": cfg.experiment_name, "seed": cfg.seed, "updates": trainer.global_step,
        "epochs": trainer.global_step / n_batches if n_batches else float("nan"),
        "hours": record.hours, "device": _device_name(trainer),
        "train_nll_token": record.last_train_nll,
        "train_nll_sentence": record.last_train_nll_sentence,
        "dev_nll_token": dev_nll, "dev_nll_sentence": _dev_nll_sentence(record.rows, dev_nll),
        "dev_ppl": perplexity(dev_nll),
        "val_bleu_greedy": next((r["val/bleu_greedy"] for r in reversed(record.rows)
                                 if r["val/bleu_greedy"] == r["val/bleu_greedy"]), float("nan")),
        "best_ckpt": str(model_dir / "best.ckpt"), "last_ckpt": str(model_dir / "last.ckpt"),
        "stopped_early": bool(trainer.should_stop and trainer.global_step != update_budget(cfg)),
        "stop_reason": stop_reason(trainer, update_budget(cfg)),
    }


def _dev_nll_sentence(rows: list[dict[str, float]], best_nll_token: float) -> float:
    """Dev NLL per sentence at the evaluation that made best.ckpt (its per-token dev NLL)."""
    best = [r for r in rows if math.isclose(r["val/loss"], best_nll_token, rel_tol=1e-6)]
    return float(best[-1]["val/nll_sentence"]) if best else math.nan


def _device_name(trainer: L.Trainer) -> str:
    """`cpu` or the GPU model (the appendix table's GPU column), times the number of devices."""
    device = trainer.strategy.root_device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return f"{trainer.world_size} x {name}" if trainer.world_size > 1 else name


# --- resume compatibility (ours): what a checkpoint was trained from ---------------------------

FINGERPRINT_KEY = "resume_fingerprint"  # top-level checkpoint entry written by ResumeStamp
# Data keys that change speed or file locations only (the prepared data is hashed by content);
# keys ending in `_dir` are dropped too, so a moved checkout still resumes.
_DATA_KEYS_IGNORED = ("num_workers", "pin_memory", "prepare_workers", "stats_report")
# Source files whose change alters training numerics or data order (a rerun must not continue).
_TRAINING_CODE = ("models", "training/lit_module.py", "training/datamodule.py", "data/batching.py")


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def training_code_hash() -> str:
    """Hash of the training code (`_TRAINING_CODE`): the model, loss, data order and batching."""
    pkg = Path(__file__).resolve().parents[1]  # src/rnnsearch
    h = hashlib.sha256()
    for name in _TRAINING_CODE:
        files = sorted((pkg / name).rglob("*.py")) if (pkg / name).is_dir() else [pkg / name]
        for f in files:
            h.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _without_locations(node: Any) -> Any:
    """A config container minus `_DATA_KEYS_IGNORED` and `*_dir` keys, at every depth."""
    if isinstance(node, dict):
        return {k: _without_locations(v) for k, v in node.items()
                if k not in _DATA_KEYS_IGNORED and not str(k).endswith("_dir")}
    return node


def training_fingerprint(cfg: DictConfig) -> dict[str, str]:
    """What a checkpoint must match to be resumed: model/optim/data config, seed, data, code.

    The trainer config is left out on purpose: a larger `max_steps` or another device continues
    the same run.
    """
    data = _without_locations(OmegaConf.to_container(cfg.data, resolve=True))
    return {"model": _digest(OmegaConf.to_container(cfg.model, resolve=True)),
            "optim": _digest(OmegaConf.to_container(cfg.optim, resolve=True)),
            "data": _digest(data), "seed": _digest(cfg.seed),
            "prepared_data": prepared_data_hash(Path(cfg.data.prepared_dir)),
            "code": training_code_hash()}


class ResumeStamp(Callback):
    """Store the run's `training_fingerprint` in every checkpoint it writes."""

    def __init__(self, fingerprint: dict[str, str]) -> None:
        self.fingerprint = dict(fingerprint)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           checkpoint: dict[str, Any]) -> None:  # noqa: D102
        checkpoint[FINGERPRINT_KEY] = self.fingerprint


def _stored_fingerprint(path: Path) -> tuple[dict[str, str] | None, int]:
    """(fingerprint or None, global step) of a checkpoint; (None, -1) if it cannot be read."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 -- a damaged file is set aside like an incompatible one
        return None, -1
    return ckpt.get(FINGERPRINT_KEY), int(ckpt.get("global_step", -1))


def set_aside(model_dir: Path) -> Path:
    """Move a model dir's training files into a new sibling `<name>.set-aside-<time>`.

    Hydra's own files (.hydra/, *.log, .submitit/) stay; nothing is deleted.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = model_dir.with_name(f"{model_dir.name}.set-aside-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = model_dir.with_name(f"{model_dir.name}.set-aside-{stamp}-{n}")
    dest.mkdir(parents=True)
    for entry in sorted(model_dir.iterdir()):
        if entry.name not in (".hydra", ".submitit") and entry.suffix != ".log":
            os.replace(entry, dest / entry.name)
    return dest


def resume_checkpoint(model_dir: Path, fingerprint: dict[str, str], mode: Any,
                      is_rank_zero: bool = True) -> Path | None:
    """Decide where training starts: the checkpoint to resume from, or None for update 0.

    Args:
        model_dir: the run's model directory (last.ckpt lives there).
        fingerprint: this run's `training_fingerprint`.
        mode: `resume` from the config: "auto" (resume a matching last.ckpt, set any other
            aside), true (last.ckpt must exist and match) or false (start over; an existing
            last.ckpt is set aside).
        is_rank_zero: only rank 0 moves files.

    Raises:
        ValueError: an unknown mode, or resume=true with a checkpoint that does not match.
        FileNotFoundError: resume=true without last.ckpt.
    """
    if not (mode is True or mode is False or mode == "auto"):
        raise ValueError(f"resume must be true, false or auto, got {mode!r}")
    last = model_dir / "last.ckpt"
    if not last.is_file():
        if mode is True:
            raise FileNotFoundError(f"resume=true but {last} does not exist; train without resume")
        return None
    stored, step = _stored_fingerprint(last)
    if stored is None:
        differs = ["fingerprint (unreadable file or none stored)"]
    else:
        differs = sorted(k for k in fingerprint if stored.get(k) != fingerprint[k])
    if not differs and mode is not False:
        log.info("resuming from %s (update %d)", last, step)
        return last
    what = "resume=false" if not differs else "different " + ", ".join(differs)
    if mode is True:
        raise ValueError(f"resume=true but {last} (update {step}) does not match this run: {what}; "
                         "use the matching config or resume=auto to set it aside")
    if is_rank_zero:
        dest = set_aside(model_dir)
        log.warning("%s (update %d) not resumed (%s): moved to %s; training from update 0",
                    last, step, what, dest)
    return None
