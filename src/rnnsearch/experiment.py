"""`python -m rnnsearch.experiment`: one experiment end to end, train -> translate -> evaluate.

Meant for Hydra multirun sweeps, e.g. `python -m rnnsearch.experiment -m seed=1,2,3
experiment=rnnsearch_30,rnnencdec_30` (or `hydra/launcher=slurm`): each job writes its model,
translations and reports (reports/metrics, details, runs, plots) under its own sweep directory
(`hydra.sweep.dir/<num>_<experiment>_seed<seed>`); `python -m rnnsearch.sweep_report <sweep dir>`
then summarises the seeds. Outside a multirun it uses the pipeline's paths, as the stages do.
Not responsible for the stages themselves (training/fit.py, evaluation/translate_stage.py and
evaluation/evaluate_stage.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from rnnsearch.cli import run_entry, user_errors_exit
from rnnsearch.config import register_configs
from rnnsearch.decoding.settings import DecodeSettings
from rnnsearch.evaluation import evaluate_stage, translate_stage
from rnnsearch.training import fit

log = logging.getLogger(__name__)
register_configs()
ENTRY = "rnnsearch.experiment"


def job_paths(cfg: DictConfig) -> DictConfig:
    """In a multirun, point model, translation and report paths into the job's own directory."""
    if not (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN):
        return cfg
    job_dir = Path(HydraConfig.get().runtime.output_dir)
    cfg.paths.model_dir = str(job_dir)  # where fit.run_locations puts a sweep job's model
    cfg.paths.translation_dir = str(job_dir / "translations")
    cfg.paths.reports_dir = str(job_dir / "reports")
    return cfg


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train, translate and evaluate `cfg.experiment_name`; returns evaluate's metrics."""
    cfg = job_paths(cfg)
    fit.run(cfg)
    translate_stage.run(cfg, DecodeSettings.from_config(cfg.decode))
    metrics = evaluate_stage.run(cfg)
    log.info("%s seed %s: done in %s", cfg.experiment_name, cfg.seed, cfg.paths.model_dir)
    return metrics


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """`python -m rnnsearch.experiment [-m] experiment=<id> seed=<n>`."""
    with user_errors_exit(ENTRY, cfg, trains=True):
        run(cfg)


if __name__ == "__main__":
    run_entry(main, ENTRY)
