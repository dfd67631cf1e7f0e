"""`python -m rnnsearch.translate experiment=<id> [input=<file or ->]`: one entry, two jobs.

Without `input=` it is the DVC stage `translate@<exp>`: beam-decode the prepared test split
(`rnnsearch.evaluation.translate_stage.run`). With `input=` it is the text shell: raw text in,
translations out (`rnnsearch.inference.shell.run_text`). Only this entry chooses between them,
so the stage never imports `inference/` (its DVC deps list what it runs). The decode settings
are built here, once, from the composed `decode` config, and both jobs take them whole.
"""

from __future__ import annotations

from typing import Any

import hydra
from omegaconf import DictConfig

from rnnsearch.cli import run_entry, user_errors_exit
from rnnsearch.config import register_configs
from rnnsearch.decoding.settings import DecodeSettings
from rnnsearch.evaluation import translate_stage
from rnnsearch.host_memory import keep_freed_memory

register_configs()
ENTRY = "rnnsearch.translate"


def run(cfg: DictConfig) -> dict[str, Any]:
    """The text shell for `input=`, else the test-split stage; the job's summary."""
    settings = DecodeSettings.from_config(cfg.decode)
    keep_freed_memory(cfg.keep_freed_memory)
    if cfg.get("input"):
        from rnnsearch.inference.shell import run_text  # the DVC stage (no input=) never loads it

        return run_text(cfg, settings)
    return translate_stage.run(cfg, settings)


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """`python -m rnnsearch.translate experiment=<id> [input=<file or -> ...]`."""
    with user_errors_exit(ENTRY, cfg):
        run(cfg)


if __name__ == "__main__":
    run_entry(main, ENTRY)
