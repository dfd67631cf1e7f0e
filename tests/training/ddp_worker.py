"""Worker for the two-process DDP tests: compose a config from argv, train, log what ranks do.

    python ddp_worker.py BATCH_LOG WRITE_LOG DELAY_S override ...

Lightning starts rank 1 by re-running this script, so both ranks record: BATCH_LOG gets one JSON
line per update (rank, update, epoch, pair indices; the rank's own loss and target tokens, and the
NLL, tokens and sentences its training step returned for the logs), WRITE_LOG the files that a
rank other than 0 opens for writing or renames into place under `paths.root_dir`. DELAY_S slows
each update down so that a test can kill the run between two checkpoints.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
from hydra import compose, initialize_config_dir
from write_watch import watch_writes  # beside this script

from rnnsearch.config import register_configs
from rnnsearch.training.fit import run

REPO = Path(__file__).resolve().parents[2]
RANK = int(os.environ.get("LOCAL_RANK", "0"))  # set by Lightning in the processes it starts


class BatchLog(L.Callback):
    """One JSON line per update: this rank's minibatch, as pair indices of the epoch, its own
    loss and target tokens, and what the training step returned for the logged train NLL."""

    def __init__(self, path: Path, delay_s: float) -> None:
        self.path, self.delay_s = path, delay_s
        self.row: dict[str, Any] = {}

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        loader = trainer.train_dataloader
        sampler = loader.batch_sampler
        position = loader.state_dict()["position"]  # batches of the epoch consumed, this one too
        self.row = {"rank": trainer.global_rank, "update": trainer.global_step + 1,
                    "epoch": sampler.epoch, "batch": sampler.epoch_batches()[position - 1],
                    "own_tokens": int(batch.tgt_mask.sum())}
        time.sleep(self.delay_s)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        row = {**self.row, "own_loss": float(outputs["loss"]), "nll_sum": float(outputs["nll_sum"]),
               "n_tokens": float(outputs["n_tokens"]),
               "n_sentences": float(outputs["n_sentences"])}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(row) + "\n")


def main() -> None:
    batch_log, write_log, delay_s, overrides = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    if RANK != 0:
        watch_writes(Path(cfg.paths.root_dir).resolve(), write_log, batch_log)
    run(cfg, callbacks=[BatchLog(Path(batch_log), float(delay_s))])


if __name__ == "__main__":
    main()
