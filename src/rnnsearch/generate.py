"""Entry point: generate the embedded English-like -> French-like corpus into `data/embedded/`.

Only the Hydra entry point; the work is done by `rnnsearch.corpora.embedded.generator.run`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from rnnsearch.cli import run_entry, user_errors_exit
from rnnsearch.config import register_configs
from rnnsearch.corpora.embedded.generator import run

register_configs()
ENTRY = "rnnsearch.generate"


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: `python -m rnnsearch.generate`."""
    with user_errors_exit(ENTRY, cfg):
        run(cfg)


if __name__ == "__main__":
    run_entry(main, ENTRY)
