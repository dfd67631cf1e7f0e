"""DVC stage `evaluate@<exp>`: score an experiment's test translations (Table 1, Figure 2).

Only the Hydra entry point; the work is done by `rnnsearch.evaluation.evaluate_stage.run`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from rnnsearch.cli import run_entry, user_errors_exit
from rnnsearch.config import register_configs
from rnnsearch.evaluation.evaluate_stage import run

register_configs()
ENTRY = "rnnsearch.evaluate"


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """`python -m rnnsearch.evaluate experiment=<id>`."""
    with user_errors_exit(ENTRY, cfg):
        run(cfg)


if __name__ == "__main__":
    run_entry(main, ENTRY)
