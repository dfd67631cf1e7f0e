"""DVC stage `translate@<exp>`: beam-decode the test set with an experiment's best checkpoint.

Only the Hydra entry point; the work is done by `rnnsearch.evaluation.translate_stage.run`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from rnnsearch.cli import run_entry, user_errors_exit
from rnnsearch.config import register_configs
from rnnsearch.evaluation.translate_stage import run

register_configs()
ENTRY = "rnnsearch.translate"


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """`python -m rnnsearch.translate experiment=<id>`."""
    with user_errors_exit(ENTRY, cfg):
        run(cfg)


if __name__ == "__main__":
    run_entry(main, ENTRY)
