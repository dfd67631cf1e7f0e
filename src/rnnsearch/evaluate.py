"""DVC stage `evaluate@<exp>`: score an experiment's test translations (Table 1, Figure 2).

Only the Hydra entry point; the work is done by `rnnsearch.evaluation.scoring.run`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from rnnsearch.config import register_configs
from rnnsearch.evaluation.scoring import run

register_configs()


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """`python -m rnnsearch.evaluate experiment=<id>`."""
    run(cfg)


if __name__ == "__main__":
    main()
