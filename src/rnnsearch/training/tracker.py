"""Experiment-tracker helpers: build the W&B / CSV logger, log sample translations, finish runs.

W&B holds the live curves (STYLE 1.5) and, logged by evaluate.py into the same run (resumed by
the id kept in the model directory), the test BLEU, BLEU by length and Figures 2 and 3, so one
dashboard compares the models on the paper's metrics; DVC owns the canonical metrics. It runs
offline unless `logger.mode` (default `${oc.env:WANDB_MODE,offline}`) says otherwise, never
prompts for a login, and writes under `logger.save_dir`. Not responsible for what is logged
during training (lit_module.py).
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

from rnnsearch.evaluation.alignment import AlignmentExample, plot_alignment
from rnnsearch.io_utils import atomic_write_text

log = logging.getLogger(__name__)


def get_logger(name: str) -> logging.Logger:
    """The module logger (`logging.getLogger`), for symmetry with the tracker helpers."""
    return logging.getLogger(name)


def build_tracker(logger_cfg: Any, run_name: str, run_dir: Path, config: dict[str, Any],
                  group: str | None) -> Logger | None:
    """The Lightning logger for `logger.kind`: "wandb", "csv" or "none".

    Args:
        logger_cfg: a `LoggerConfig`.
        run_name: the experiment id (W&B run name).
        run_dir: the run's model directory (CSV logs; the W&B run id is kept there for resume).
        config: the resolved config, logged with the run.
        group: W&B group (the sweep id in a multirun).
    """
    if logger_cfg.kind == "none":
        return None
    if logger_cfg.kind == "csv":
        return CSVLogger(save_dir=str(run_dir), name="csv_logs", version="")
    if logger_cfg.kind != "wandb":
        raise ValueError(f"logger.kind must be wandb, csv or none, got {logger_cfg.kind!r}")
    return _wandb_logger(logger_cfg, run_name, run_dir, config, group)


def _wandb_logger(logger_cfg: Any, run_name: str, run_dir: Path, config: dict[str, Any],
                  group: str | None) -> WandbLogger:
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ["WANDB_MODE"] = logger_cfg.mode  # the config wins over a stale environment
    save_dir = Path(logger_cfg.save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        name=run_name, project=logger_cfg.project, entity=logger_cfg.entity, group=group,
        save_dir=str(save_dir), id=wandb_run_id(run_dir), offline=logger_cfg.mode == "offline",
        mode=logger_cfg.mode, log_model=logger_cfg.log_model, config=config,
        settings=_wandb_settings(),
    )


def _wandb_settings() -> Any:
    import wandb  # only W&B runs pay for the import

    return wandb.Settings(silent=True, console="off", x_disable_stats=True, save_code=False)


def wandb_run_id(run_dir: Path, keep: bool = True) -> str:
    """The W&B run id kept in `run_dir/wandb_run_id.txt`; else a new one (kept there if `keep`).

    Training, its resumes and evaluate.py all log into this one run.
    """
    id_file = run_dir / "wandb_run_id.txt"
    run_id = id_file.read_text().strip() if id_file.is_file() else ""
    if not run_id:
        run_id = uuid.uuid4().hex[:8]
        if keep:
            atomic_write_text(id_file, run_id + "\n")
    return run_id


def log_test_results(logger_cfg: Any, run_name: str, run_dir: Path, metrics: dict[str, Any],
                     length_rows: list[dict[str, Any]], figure2: Path,
                     figure3: list[Path]) -> None:
    """Test scores, BLEU by length and Figures 2 and 3 into the model's training W&B run.

    Args:
        logger_cfg: a `LoggerConfig` with kind "wandb".
        run_name: the experiment id.
        run_dir: the model directory (its `wandb_run_id.txt` names the run to resume).
        metrics: evaluate.py's merged metrics (`bleu`, `bleu_detok`, `alignment`).
        length_rows: Figure 2's rows (bucket, length, bleu, ci_low, ci_high, n).
        figure2: this model's Figure 2 image; figure3: its alignment images (none: RNNencdec).
    """
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ["WANDB_MODE"] = logger_cfg.mode
    save_dir = Path(logger_cfg.save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    scalars = {f"test/{flavour}_{col}": metrics[flavour][col]
               for flavour in ("bleu", "bleu_detok") if flavour in metrics
               for col in ("all", "no_unk") if metrics[flavour].get(col) is not None}
    if metrics.get("alignment", {}).get("aer") is not None:
        scalars["test/aer"] = metrics["alignment"]["aer"]
    columns = list(length_rows[0]) if length_rows else []
    record: dict[str, Any] = {
        **scalars,
        "test/bleu_by_length": wandb.Table(columns=columns,
                                           data=[[r[c] for c in columns] for r in length_rows]),
        "test/figure2_bleu_by_length": wandb.Image(str(figure2)),
    }
    if figure3:
        record["test/figure3_alignment"] = [wandb.Image(str(p)) for p in figure3]
    if not (run_dir / "wandb_run_id.txt").is_file():  # trained without W&B: a run of its own
        log.info("%s: no W&B run id in %s; the test results go to a new run", run_name, run_dir)
    run = wandb.init(id=wandb_run_id(run_dir, keep=False), resume="allow", name=run_name,
                     project=logger_cfg.project, entity=logger_cfg.entity,
                     dir=str(save_dir), mode=logger_cfg.mode, settings=_wandb_settings())
    try:
        run.log(record)
        run.summary.update(scalars)  # the dashboard's run table compares these
    finally:
        run.finish()


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
