"""Checkpoint files: periodic and preemption saves, the fingerprint stamp, atomic IO.

The one owner of checkpoint files:
- `PeriodicCheckpoint` keeps step checkpoints and last.ckpt.
- `PreemptionCheckpoint`: SIGTERM / SIGINT / SIGUSR2 (SLURM preemption, `timeout`, Ctrl-C,
  submitit's pre-timeout signal) -> a checkpoint at the current update through the
  `PeriodicCheckpoint` it is given, then exit 128 + signum; exit 1 with one line naming
  `max_num_timeout` and the checkpoint when submitit refuses to requeue the job again.
- `ResumeStamp` stores the run's `resume.training_fingerprint` in every checkpoint.
- `AtomicCheckpointIO` writes a checkpoint to a temporary file in the target directory and renames
  it (Lightning's own writer stages the bytes in the system temp dir and `shutil.move`s them,
  which degrades to a non-atomic copy across file systems), and loads with `weights_only=True`.
  A failed write (full disk) keeps the previous file and raises one line naming the path.
best.ckpt is Lightning's `ModelCheckpoint` (trainer.py). Not responsible for deciding whether a
checkpoint may be resumed (resume.py).
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, Checkpoint
from lightning.pytorch.trainer.connectors.signal_connector import _HandlersCompose, _SignalConnector

from rnnsearch.data.guards import FINGERPRINT_KEY
from rnnsearch.io_utils import atomic_path

log = logging.getLogger(__name__)


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
    """Whether Lightning validates after the update that just ended (before the next one).

    Lightning has no public "validates after this batch", so this is the project's rule, read
    from public trainer state: every `val_check_batch` batches, counted across epochs when
    `check_val_every_n_epoch` is None (the project's step-based configs) and within the epoch
    otherwise, only in the epochs `check_val_every_n_epoch` selects, and at once when a stop is
    requested. Time-based intervals are not supported (conf/trainer uses update counts).
    tests/training/test_validation_due.py checks it against when Lightning really validates.
    """
    every_n_epochs = trainer.check_val_every_n_epoch
    if not trainer.enable_validation or (
            every_n_epochs is not None and (trainer.current_epoch + 1) % every_n_epochs):
        return False
    if trainer.should_stop:
        return True
    loop = trainer.fit_loop.epoch_loop
    every = trainer.val_check_batch
    if every is None or every == float("inf"):
        return bool(loop.batch_progress.is_last_batch)
    done = loop.total_batch_idx if every_n_epochs is None else loop.batch_idx  # 0-based
    return (done + 1) % int(every) == 0


class PreemptionCheckpoint(Checkpoint):
    """On SIGTERM / SIGINT / SIGUSR2: checkpoint at the current update, then exit 128 + signum.

    SLURM preemption and `timeout` send SIGTERM, Ctrl-C is SIGINT, and submitit (the SLURM
    launcher, conf/hydra/launcher/slurm.yaml) sends SIGUSR2 `signal_delay_s` before the time limit.
    The handler only records the signal; at the end of the running update (after its validation
    if one is due; hence a `Checkpoint`, which Lightning runs after ModelCheckpoint) the checkpoint
    is written by `PeriodicCheckpoint.save` (step file + last.ckpt), a Python handler installed
    before ours for that signal runs on the rank that received it (`handed_on`: submitit's
    requeues the job; Lightning's own are left out), and the process exits 128 + signum,
    non-zero, so `dvc repro` never records an interrupted stage as done. When submitit refuses
    to requeue (its `max_num_timeout` requeues are used up), the job ends with one line naming
    the limit and the checkpoint (`not_requeued`), exit status 1. The rerun resumes from
    last.ckpt (train.py, resume=auto). A second Ctrl-C interrupts at once. Handlers are installed
    when training starts (after Lightning's) and restored when it ends.

    Args:
        saver: the run's `PeriodicCheckpoint`, which writes the checkpoint.
    """

    SIGNALS = ("SIGTERM", "SIGINT", "SIGUSR2")

    def __init__(self, saver: PeriodicCheckpoint) -> None:
        self.saver = saver
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
        own = self.received is not None  # False: another rank was signalled
        signum = self.received if own else signal.SIGTERM
        self.saver.save(trainer)
        log.warning("%s at update %d: checkpoint saved to %s; exiting with %d (rerun to resume)",
                    signal.Signals(signum).name, trainer.global_step,
                    self.saver.dirpath / "last.ckpt",
                    128 + signum)
        previous = handed_on(self._previous.get(signum)) if own else []
        self._restore()
        for handler in previous:  # submitit's SIGUSR2 handler requeues the job, then exits -1
            try:
                handler(signum, None)
            except SystemExit:  # the exit status stays 128 + signum, as logged
                pass
            except Exception as err:  # submitit refused to requeue (else re-raised)
                self._end_not_requeued(err, trainer.global_step)
        sys.stdout.flush()
        raise SystemExit(128 + signum)

    def _end_not_requeued(self, err: Exception, step: int) -> None:
        """Exit 1 with one line (logged, and on stderr) if submitit refused to requeue; else
        re-raise `err`."""
        message = not_requeued(err, self.saver.dirpath / "last.ckpt", step)
        if message is None:
            raise err
        log.error(message)
        sys.stdout.flush()
        print(message, file=sys.stderr, flush=True)
        report_to_launcher(message)
        raise SystemExit(1) from None

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:  # noqa: D102
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule,
                     exception: BaseException) -> None:  # noqa: D102
        self._restore()


def not_requeued(err: BaseException, last: Path, step: int) -> str | None:
    """One line for submitit's refusal to requeue the job (the `UncompletedJobError` its signal
    handler raises: after `hydra.launcher.max_num_timeout` requeues the next time limit ends the
    job), naming the limit and the checkpoint to resume from; None for any other error.
    """
    if not any(c.__name__ == "UncompletedJobError" and c.__module__.startswith("submitit")
               for c in type(err).__mro__):
        return None
    reason = str(err).strip().removeprefix("Job not requeued because: ").rstrip(".")
    if "too many times" in reason:
        reason = ("the time limit was reached again after hydra.launcher.max_num_timeout "
                  "requeues")
    return (f"job not requeued: {reason}; the last checkpoint is {last} (update {step}): "
            "submit it again with the same hydra.sweep.dir to resume from it")


def report_to_launcher(message: str) -> None:
    """Leave the job's end where submitit's launcher side reads each task's outcome: the task's
    result file, holding ("error", message) as submitit's own error report does. A job that exits
    without it (as this one does, to end without a traceback) leaves the launcher waiting for
    the job's state from SLURM's accounting (sacct), forever on a cluster that keeps none.
    """
    import submitit  # only a submitit job gets here

    with atomic_path(submitit.JobEnvironment().paths.result_pickle) as tmp:
        tmp.write_bytes(pickle.dumps(("error", message)))


def handed_on(handler: Any) -> list[Any]:
    """The handlers installed before ours that a signal is passed on to: the launcher's (submitit
    requeues the job), never Lightning's own, which kill the other ranks and broadcast over
    torch.distributed, a collective that the other ranks are not in (they crash or hang).

    Lightning composes its handlers with the ones it found (`_HandlersCompose`, private; no public
    way to tell them apart); those it found are kept.
    """
    if isinstance(handler, _HandlersCompose):
        return [h for inner in handler.signal_handlers for h in handed_on(inner)]
    if not callable(handler) or handler is signal.default_int_handler:
        return []
    if isinstance(getattr(handler, "__self__", None), _SignalConnector):
        return []
    return [handler]


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



class ResumeStamp(Callback):
    """Store the run's `training_fingerprint` in every checkpoint it writes."""

    def __init__(self, fingerprint: dict[str, str]) -> None:
        self.fingerprint = dict(fingerprint)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           checkpoint: dict[str, Any]) -> None:  # noqa: D102
        checkpoint[FINGERPRINT_KEY] = self.fingerprint

