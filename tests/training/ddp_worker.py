"""Worker for the two-process DDP tests: compose a config from argv, train, log what ranks do.

    python ddp_worker.py BATCH_LOG WRITE_LOG DELAY_S override ...

Lightning starts rank 1 by re-running this script, so both ranks record: BATCH_LOG gets one JSON
line per update (rank, update, epoch, pair indices), WRITE_LOG the files that a rank other than 0
opens for writing or renames into place under `paths.root_dir`. DELAY_S slows each update down so
that a test can kill the run between two checkpoints.
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

from rnnsearch.config import register_configs
from rnnsearch.training.fit import run

REPO = Path(__file__).resolve().parents[2]
RANK = int(os.environ.get("LOCAL_RANK", "0"))  # set by Lightning in the processes it starts
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class BatchLog(L.Callback):
    """One JSON line per update: this rank's minibatch, as pair indices of the epoch."""

    def __init__(self, path: Path, delay_s: float) -> None:
        self.path, self.delay_s = path, delay_s

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        loader = trainer.train_dataloader
        sampler = loader.batch_sampler
        position = loader.state_dict()["position"]  # batches of the epoch consumed, this one too
        row = {"rank": trainer.global_rank, "update": trainer.global_step + 1,
               "epoch": sampler.epoch, "batch": sampler.epoch_batches()[position - 1]}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        time.sleep(self.delay_s)


def watch_writes(root: Path, log_path: str, own: str) -> None:
    """Record every file this process opens for writing (or renames onto) under `root`,
    except `own` (the batch log)."""
    out = open(log_path, "a", buffering=1)  # noqa: SIM115 -- open before the hook watches

    def hook(event: str, args: tuple) -> None:
        if event == "open" and args[0] is not None and not isinstance(args[0], int):
            mode, flags = args[1] or "", args[2] or 0
            if any(c in mode for c in "wax+") or flags & WRITE_FLAGS:
                target = str(args[0])
            else:
                return
        elif event == "os.rename":
            target = str(args[1])
        else:
            return
        path = os.path.abspath(target)
        if path.startswith(str(root)) and path != os.path.abspath(own):
            out.write(target + "\n")

    sys.addaudithook(hook)


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
