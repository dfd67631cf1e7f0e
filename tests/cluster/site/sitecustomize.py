"""Imported by every Python process whose PYTHONPATH names this directory (`site`).

In a task of a SLURM job other than task 0 (SLURM_PROCID), with WRITE_WATCH_ROOT and
WRITE_WATCH_LOG set, record the files the process writes under WRITE_WATCH_ROOT into
WRITE_WATCH_LOG (tests/training/write_watch.py). Anywhere else it does nothing.
"""

import os
import sys
from pathlib import Path

if os.environ.get("SLURM_PROCID", "0") != "0" and "WRITE_WATCH_LOG" in os.environ:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
    from write_watch import watch_writes

    watch_writes(Path(os.environ["WRITE_WATCH_ROOT"]), os.environ["WRITE_WATCH_LOG"],
                 os.environ["WRITE_WATCH_LOG"])
    sys.path.pop(0)
