"""Experiment-tracker helpers: build the W&B / CSV logger, log sample translations, finish runs.

W&B holds the live curves and, logged by evaluate.py into the same run
(`rnnsearch.wandb_runs`: resumed by the id kept in the model directory), the test BLEU, BLEU by
length and Figures 2 and 3, so one dashboard compares the models on the paper's metrics; DVC
owns the canonical metrics. It runs
offline unless `logger.mode` (default `${oc.env:WANDB_MODE,offline}`) says otherwise, never
prompts for a login, and writes under `logger.save_dir`. The CSV logger keeps a resumed run's
earlier rows. Not responsible for what is logged
during training (lit_module.py).
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from rnnsearch.heatmap import AlignmentExample, plot_alignment
from rnnsearch.io_utils import atomic_path
from rnnsearch.wandb_runs import wandb_environment, wandb_run_id, wandb_settings

log = logging.getLogger(__name__)


class _ResumedWriter(ExperimentWriter):
    """Lightning's CSV writer, except that the rows of metrics.csv logged by updates up to
    `resumed_step` are kept. Lightning's deletes the file when a run resumes into the same
    directory; here the kept rows replace it atomically (`io_utils.atomic_path`), so a kill at
    any moment leaves the whole old file or the kept rows. Lightning's `step` column counts the
    updates before the logged one: update u's train and validation rows have step u - 1."""

    def __init__(self, log_dir: str, resumed_step: int | None) -> None:
        self.resumed_step = resumed_step
        self._kept_keys: list[str] = []
        super().__init__(log_dir=log_dir)  # runs _check_log_dir_exists
        self.metrics_keys = self._kept_keys  # later rows are appended (new keys rewrite the header)

    def _check_log_dir_exists(self) -> None:
        """Lightning's (private) hook that deletes metrics.csv; a resumed run trims it instead."""
        path = self.metrics_file_path
        if self.resumed_step is None or not os.path.isfile(path):
            super()._check_log_dir_exists()
            return
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            keys = list(reader.fieldnames or [])
            kept = [row for row in reader  # Lightning's step: updates before the row's
                    if row.get("step") and int(row["step"]) < self.resumed_step]
        if not kept:
            os.remove(path)  # what Lightning does; the rerun logs every row again
            return
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(kept)
        self._kept_keys = keys


class ResumedCSVLogger(CSVLogger):
    """`CSVLogger` whose metrics.csv continues a resumed run: the rows up to the resumed
    update stay, those a killed run wrote after it are dropped (the rerun logs them again).

    Args:
        resumed_step: the update the run resumes at (None: a fresh run, Lightning's behaviour).
    """

    def __init__(self, *args: Any, resumed_step: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resumed_step = resumed_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:  # noqa: D102
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ResumedWriter(self.log_dir, self.resumed_step)
        return self._experiment


def build_tracker(logger_cfg: Any, run_name: str, run_dir: Path, config: dict[str, Any],
                  group: str | None, resumed_step: int | None = None) -> Logger | None:
    """The Lightning logger for `logger.kind`: "wandb", "csv" or "none".

    Args:
        logger_cfg: a `LoggerConfig`.
        run_name: the experiment id (W&B run name).
        run_dir: the run's model directory (CSV logs; the W&B run id is kept there for resume).
        config: the resolved config, logged with the run.
        group: W&B group (the sweep id in a multirun).
        resumed_step: the update a resumed run continues from (CSV: earlier rows are kept).
    """
    if logger_cfg.kind == "none":
        return None
    if logger_cfg.kind == "csv":
        return ResumedCSVLogger(save_dir=str(run_dir), name="csv_logs", version="",
                                resumed_step=resumed_step)
    return _wandb_logger(logger_cfg, run_name, run_dir, config, group)


def _wandb_logger(logger_cfg: Any, run_name: str, run_dir: Path, config: dict[str, Any],
                  group: str | None) -> WandbLogger:
    save_dir = wandb_environment(logger_cfg)
    return WandbLogger(
        name=run_name, project=logger_cfg.project, entity=logger_cfg.entity, group=group,
        save_dir=str(save_dir), id=wandb_run_id(run_dir), offline=logger_cfg.mode == "offline",
        mode=logger_cfg.mode, log_model=logger_cfg.log_model, config=config,
        settings=wandb_settings(),
    )


def finish_tracker(logger: Logger | None) -> None:
    """Close the W&B run (each multirun job gets its own); no-op for other loggers."""
    if isinstance(logger, WandbLogger):
        import wandb

        wandb.finish()


def log_translation_samples(logger: Logger | None, samples: list[dict[str, Any]],
                            step: int) -> None:
    """Sample translations as a W&B table and attention maps as W&B images (else to the log).

    Args:
        logger: the trainer's logger.
        samples: dicts with token lists `source`, `reference`, `hypothesis` and `attention`
            ((T, S) array or None for RNNencdec).
        step: the global step.
    """
    rows = [[" ".join(s["source"]), " ".join(s["reference"]), " ".join(s["hypothesis"])]
            for s in samples]
    if not isinstance(logger, WandbLogger):
        for src, ref, hyp in rows[:2]:
            log.info("step %d sample\n  src: %s\n  ref: %s\n  hyp: %s", step, src, ref, hyp)
        return
    logger.log_text("val/samples", columns=["source", "reference", "hypothesis"], data=rows,
                    step=step)
    with tempfile.TemporaryDirectory() as tmp:
        images = [
            str(plot_alignment(AlignmentExample(k, s["source"], s["hypothesis"], s["attention"]),
                               Path(tmp) / f"attention_{k}.png"))
            for k, s in enumerate(samples) if s["attention"] is not None
        ]
        if images:  # RNNencdec has no alignment to show
            logger.log_image("val/attention", images, step=step)
