"""W&B runs shared by training and evaluation, without Lightning.

A model's training run, its resumes and evaluate.py's test results all go to one W&B run, named
by the id kept in the model directory (`wandb_run_id.txt`), with one name (the experiment id)
and one group (`wandb_group`). Offline unless `logger.mode` says
otherwise; never prompts for a login. Not responsible for the Lightning logger that training
uses (training/loggers.py).
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

from rnnsearch.io_utils import atomic_write_text

log = logging.getLogger(__name__)


def wandb_settings() -> Any:
    """Quiet W&B settings: no console capture, no system stats, no code upload."""
    import wandb  # only W&B runs pay for the import

    return wandb.Settings(silent=True, console="off", x_disable_stats=True, save_code=False)


def wandb_environment(logger_cfg: Any) -> Path:
    """Set W&B's mode (the config wins over a stale environment) and quiet; make `save_dir`."""
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ["WANDB_MODE"] = logger_cfg.mode
    save_dir = Path(logger_cfg.save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    return save_dir


def wandb_group(logger_cfg: Any) -> str | None:
    """The W&B group of a model's runs: `logger.group`, else in a Hydra multirun the sweep id
    (the sweep directory's name), else none. Training and evaluate.py both take it from here, so
    the test results land in the training run's group."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if logger_cfg.group:
        return str(logger_cfg.group)
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().sweep.dir).name
    return None


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

    save_dir = wandb_environment(logger_cfg)
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
    run = _resume_run(logger_cfg, run_name, run_dir, save_dir)
    try:
        run.log(record)
        run.summary.update(scalars)  # the dashboard's run table compares these
    finally:
        run.finish()


def _resume_run(logger_cfg: Any, run_name: str, run_dir: Path, save_dir: Path) -> Any:
    """wandb.init of the model's training run (a new run when it was trained without W&B)."""
    import wandb

    if not (run_dir / "wandb_run_id.txt").is_file():  # trained without W&B: a run of its own
        log.info("%s: no W&B run id in %s; the test results go to a new run", run_name, run_dir)
    return wandb.init(id=wandb_run_id(run_dir, keep=False), resume="allow", name=run_name,
                      project=logger_cfg.project, entity=logger_cfg.entity,
                      group=wandb_group(logger_cfg), dir=str(save_dir), mode=logger_cfg.mode,
                      settings=wandb_settings())


def log_html(logger_cfg: Any, run_name: str, run_dir: Path, key: str, html: str) -> None:
    """A self-contained HTML page as a `wandb.Html` panel of the model's training run.

    Args:
        logger_cfg: a `LoggerConfig` with kind "wandb".
        run_name: the experiment id.
        run_dir: the model directory (its `wandb_run_id.txt` names the run to resume).
        key: the panel's name, e.g. "test/alignment_explorer".
        html: the page (inline script and style; W&B's own style is not injected).
    """
    import wandb

    save_dir = wandb_environment(logger_cfg)
    run = _resume_run(logger_cfg, run_name, run_dir, save_dir)
    try:
        run.log({key: wandb.Html(html, inject=False)})
    finally:
        run.finish()
