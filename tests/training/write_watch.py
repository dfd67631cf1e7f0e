"""An audit hook that records the files a process writes under a directory (standard library only).

Used by the DDP worker (ddp_worker.py) and, through tests/cluster/site/sitecustomize.py, by the
ranks of a SLURM job, to check that only rank 0 writes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


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
