"""Entry point (DVC stage `prepare`): raw corpus -> tokens, shortlists, id arrays, stats.

Only the Hydra entry point; the work is done by `rnnsearch.data.prepare_stage.run`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from rnnsearch.cli import run_entry, user_errors_exit
from rnnsearch.config import register_configs
from rnnsearch.data.prepare_stage import run

register_configs()
ENTRY = "rnnsearch.prepare"


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: `python -m rnnsearch.prepare data=<name>`."""
    with user_errors_exit(ENTRY, cfg):
        run(cfg)


if __name__ == "__main__":
    run_entry(main, ENTRY)
