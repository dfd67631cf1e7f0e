"""Entry point: the WMT'14 English->French recipe of Sec. 4.1 (needs a network the first time).

Only the Hydra entry point; the work is done by `rnnsearch.corpora.wmt14.recipe.run`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from rnnsearch.cli import run_entry, user_errors_exit
from rnnsearch.config import register_configs
from rnnsearch.corpora.wmt14.recipe import run

register_configs()
ENTRY = "rnnsearch.wmt14"


@hydra.main(config_path="../../conf", config_name="wmt14", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: `python -m rnnsearch.wmt14` (conf/wmt14.yaml selects data=wmt14_lium)."""
    with user_errors_exit(ENTRY, cfg):
        run(cfg)


if __name__ == "__main__":
    run_entry(main, ENTRY)
