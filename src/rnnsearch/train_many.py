"""DVC stage entry: train several experiments side by side, `--jobs` processes at a time.

`python -m rnnsearch.train_many --jobs 2 rnnsearch_50 rnnencdec_30 -- data=embedded scale=demo`
(or `--pipeline conf/pipeline.yaml` for the ids of its `experiments`, as the DVC stage does)
runs `python -m rnnsearch.train experiment=<id> <overrides>` once per experiment, each in its
own process with its own log (`artifacts/logs/train/<id>.log`), so that a 2-core machine trains
two models at once instead of leaving a core idle: the models are small and single-threaded runs
scale best. Each child is exactly the single-model command, so resume, guards and outputs are
train.py's. Experiments start in the order given (put the slowest first so the tail stays short).
With `--pipeline`, the file's `train_jobs_by_scale` entry for the run's `scale=` override wins
over `--jobs` (conf/pipeline.yaml: one training at a time at scale=paper, on one GPU).

Not responsible for anything inside a training run (train.py).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

log = logging.getLogger(__name__)


def train_command(experiment: str, overrides: Sequence[str]) -> list[str]:
    """The single-model training command of one experiment."""
    return [sys.executable, "-m", "rnnsearch.train", f"experiment={experiment}", *overrides]


def run_one(experiment: str, overrides: Sequence[str], log_dir: Path) -> tuple[str, int, float]:
    """Train one experiment in a child process; returns (experiment, exit status, seconds)."""
    log_path = log_dir / f"{experiment}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log.info("train %s: started (log: %s)", experiment, log_path)
    with open(log_path, "w", encoding="utf-8") as fh:
        status = subprocess.run(train_command(experiment, overrides), stdout=fh,
                                stderr=subprocess.STDOUT, check=False).returncode
    seconds = time.perf_counter() - t0
    log.info("train %s: exit %d after %.0f s", experiment, status, seconds)
    return experiment, status, seconds


def run(experiments: Sequence[str], overrides: Sequence[str], jobs: int, log_dir: Path) -> int:
    """Train every experiment, at most `jobs` at a time; 0 if all succeeded, else 1.

    A failed experiment does not stop the others (their progress is kept); the failure is
    reported in one line with the log to read.
    """
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda e: run_one(e, overrides, log_dir), experiments))
    failed = [(e, s) for e, s, _ in results if s != 0]
    for experiment, status in failed:
        tail = (log_dir / f"{experiment}.log").read_text("utf-8", errors="replace").splitlines()
        last = next((line for line in reversed(tail) if line.strip()), "")
        print(f"train {experiment} failed (exit {status}): {last.strip()} "
              f"[full log: {log_dir / f'{experiment}.log'}]", file=sys.stderr)
    return 1 if failed else 0


def jobs_for_scale(pipeline: Any, overrides: Sequence[str], jobs: int) -> int:
    """`jobs`, or the pipeline file's `train_jobs_by_scale` entry for the last `scale=` override."""
    scales = [o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith("scale=")]
    by_scale = pipeline.get("train_jobs_by_scale") or {}
    return int(by_scale.get(scales[-1], jobs)) if scales else jobs


def main(argv: Sequence[str] | None = None) -> None:
    """Parse `[--jobs N] [--log-dir D] EXPERIMENT... [-- HYDRA_OVERRIDE...]` and train."""
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m rnnsearch.train_many",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", help="conf/experiment/<id>.yaml ids")
    parser.add_argument("--pipeline", type=Path, help="also train this file's `experiments`")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once (default 2)")
    parser.add_argument("--log-dir", type=Path, default=Path("artifacts/logs/train"))
    args = parser.parse_args(argv)
    experiments, jobs = list(args.experiments), args.jobs
    if args.pipeline is not None:
        pipeline = OmegaConf.load(args.pipeline)
        experiments += list(pipeline.experiments)
        jobs = jobs_for_scale(pipeline, overrides, jobs)
    if not experiments:
        parser.error("no experiments: name them or pass --pipeline conf/pipeline.yaml")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s] %(message)s")
    if jobs != args.jobs:
        log.info("%s: train_jobs_by_scale gives %d training(s) at a time (not --jobs %d)",
                 args.pipeline, jobs, args.jobs)
    sys.exit(run(experiments, overrides, jobs, args.log_dir))


if __name__ == "__main__":
    main()
