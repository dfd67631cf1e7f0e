"""DVC stage entry: `python -m rnnsearch.train experiment=<id> [overrides]` -> a trained model dir.

Paper: Sec. 4.2 / App. B.2. Writes to `paths.model_dir` (artifacts/models/<experiment>):
best.ckpt (lowest dev NLL), last.ckpt, checkpoints/step*.ckpt (the newest keep_last_checkpoints),
config.yaml (resolved) and summary.json (appendix learning statistics); curves: reports/curves.
A multirun job (`-m`) writes all of that into its own Hydra sweep directory instead, so a sweep
never overwrites the pipeline's artefacts (unless `paths.model_dir` is overridden explicitly).
Resume (`resume`, default auto): a last.ckpt trained from the same model/optim/data config, seed,
prepared data and training code is continued with the same data order (a rerun of a killed
`dvc repro`); any other is moved aside (resume.resume_checkpoint). SIGTERM/SIGINT/SIGUSR2
checkpoint the current update before exiting (checkpointing.PreemptionCheckpoint).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from rnnsearch.data.guards import (
    check_corpus_scale,
    check_dev_lengths,
    check_prepared_settings,
)
from rnnsearch.host_memory import keep_freed_memory
from rnnsearch.inference.model_dir import write_model_files
from rnnsearch.io_utils import atomic_write_json, atomic_write_text
from rnnsearch.training.checkpointing import ResumeStamp
from rnnsearch.training.datamodule import ParallelTextDataModule
from rnnsearch.training.lit_module import TranslationModule
from rnnsearch.training.loggers import build_tracker, finish_tracker
from rnnsearch.training.record import TrainingRecord, learning_summary
from rnnsearch.training.resume import resume_checkpoint, stored_step, training_fingerprint
from rnnsearch.training.trainer import build_trainer
from rnnsearch.wandb_runs import wandb_group

log = logging.getLogger(__name__)


def run_locations(cfg: DictConfig) -> tuple[Path, Path, str | None]:
    """(model_dir, curves CSV, W&B group): the pipeline's paths, or the sweep job's own dir."""
    model_dir = Path(cfg.paths.model_dir)
    curves = Path(cfg.paths.reports_dir) / "curves" / f"{cfg.experiment_name}.csv"
    if not (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN):
        return model_dir, curves, wandb_group(cfg.logger)
    hc = HydraConfig.get()
    if not any(o.startswith("paths.model_dir=") for o in hc.overrides.task):
        model_dir = Path(hc.runtime.output_dir)
    return model_dir, model_dir / "curves.csv", wandb_group(cfg.logger)


def run(cfg: DictConfig, callbacks: Sequence[Callback] = ()) -> dict[str, Any]:
    """Train one model; returns (and writes to summary.json) its learning statistics.

    Args:
        cfg: the composed config.
        callbacks: extra Lightning callbacks (tests use them to interrupt or poison a run).

    Raises:
        FileNotFoundError: prepared data missing, or resume=true without a last.ckpt.
        ValueError: resume=true with a last.ckpt from another config, data or code.
        ValueError: the corpus may not run at this scale, or the prepared data was made under
            another scale or shortlist (one line naming both and the fix).
        DataError: a dev sentence over `data.dev_max_len` tokens (names file and line).
        FloatingPointError: a non-finite loss; the message names the step and the last good
            checkpoint, which is left untouched.
    """
    check_corpus_scale(cfg)
    check_prepared_settings(cfg)  # prepared under this scale and shortlist, or stop here
    check_dev_lengths(Path(cfg.data.prepared_dir), (cfg.data.src_lang, cfg.data.tgt_lang),
                      cfg.data.dev_max_len)  # before anything is written or set aside
    L.seed_everything(cfg.seed, workers=True)
    keep_freed_memory(cfg.keep_freed_memory)  # before the first large tensor
    if cfg.trainer.num_threads:  # 2 threads on 2 busy cores can run 10x slower than 1
        torch.set_num_threads(cfg.trainer.num_threads)
    # GroundHog trained in float32: TF32 (10-bit mantissa products) only when asked for
    torch.backends.cuda.matmul.allow_tf32 = cfg.trainer.tf32
    torch.backends.cudnn.allow_tf32 = cfg.trainer.tf32
    model_dir, curves_csv, group = run_locations(cfg)
    last = model_dir / "last.ckpt"
    fingerprint = training_fingerprint(cfg)  # resume=auto continues only a matching last.ckpt
    start = resume_checkpoint(model_dir, fingerprint, cfg.resume, rank_zero_only.rank == 0)
    resolved = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)  # W&B: no Enum
    dm = ParallelTextDataModule(cfg.data, cfg.seed)
    module = TranslationModule.from_config(cfg, len(dm.src_vocab), len(dm.tgt_vocab))
    if rank_zero_only.rank == 0:  # under DDP the other ranks write nothing
        atomic_write_text(model_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
        write_model_files(cfg, model_dir)  # vocabularies, tokenizer: the directory translates alone
    tracker = build_tracker(cfg.logger, cfg.experiment_name, model_dir, resolved, group,
                            stored_step(start) if start else None)
    record = TrainingRecord(curves_csv)
    trainer = build_trainer(cfg, model_dir, [record, ResumeStamp(fingerprint), *callbacks],
                            tracker)
    try:
        try:
            trainer.fit(module, datamodule=dm, ckpt_path=str(start) if start else None,
                        weights_only=True)
        except FloatingPointError as err:
            good = str(last) if last.is_file() else "none (no checkpoint was written yet)"
            raise FloatingPointError(f"{err}; last good checkpoint: {good}") from None
        summary = learning_summary(cfg, trainer, record, model_dir)
    finally:
        finish_tracker(tracker)
    if trainer.is_global_zero:
        atomic_write_json(model_dir / "summary.json", summary)
    log.info("%s: %d updates, %.2f epochs, %.3f h, NLL per sentence train %.2f dev %.2f, "
             "dev ppl %.1f, stopped by %s", cfg.experiment_name, summary["updates"],
             summary["epochs"], summary["hours"], summary["train_nll_sentence"],
             summary["dev_nll_sentence"], summary["dev_ppl"], summary["stop_reason"])
    if summary["stop_reason"] == "time_limit":
        budget = summary["budget"]["updates"]  # None: stopped before it was sized (budget.py)
        log.warning("%s: trainer.max_time stopped training after %d of %s updates",
                    cfg.experiment_name, summary["updates"], budget or "the not yet sized")
    return summary
