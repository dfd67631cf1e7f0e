"""DVC stage `report`: reports/results.md with Table 1, Figures 2 and 3, learning statistics and a

Only the Hydra entry point; the work is done by `rnnsearch.evaluation.report_stage.run`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from rnnsearch.cli import run_entry, user_errors_exit
from rnnsearch.config import register_configs
from rnnsearch.evaluation.report_stage import run

register_configs()
ENTRY = "rnnsearch.report"


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """`python -m rnnsearch.report`."""
    with user_errors_exit(ENTRY, cfg):
        run(cfg)


if __name__ == "__main__":
    run_entry(main, ENTRY)
