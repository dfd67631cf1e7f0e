"""DVC stage entry: `python -m rnnsearch.train experiment=<id> [overrides]` -> a trained model dir.

Only the Hydra entry point; the work is done by `rnnsearch.training.fit.run`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from rnnsearch.cli import run_entry, user_errors_exit
from rnnsearch.config import register_configs
from rnnsearch.training.fit import run

register_configs()
ENTRY = "rnnsearch.train"


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: compose, then `run`."""
    with user_errors_exit(ENTRY, cfg, trains=True):
        run(cfg)


if __name__ == "__main__":
    run_entry(main, ENTRY)
