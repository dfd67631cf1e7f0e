"""A one-node SLURM cluster on localhost (tests/cluster/slurm_cluster.sh) for the `cluster` tests.

It is started once per session when slurm-wlm and munge are installed and the tests run as root
(munged must run as the munge user); otherwise every test here skips with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("slurm_cluster.sh")
DAEMONS = ("sbatch", "sinfo", "slurmctld", "slurmd", "munged")


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment (SLURM_CONF) of a running one-node cluster; stopped after the session."""
    missing = [name for name in DAEMONS
               if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]
    if missing:
        pytest.skip(f"SLURM not installed (no {', '.join(missing)}): "
                    "apt-get install slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("the one-node SLURM cluster needs root (munged runs as the munge user)")
    state = tmp_path_factory.mktemp("slurm")
    up = subprocess.run(["bash", str(SCRIPT), "up", str(state)], capture_output=True, text=True,
                        timeout=120)
    if up.returncode != 0:
        pytest.fail(f"SLURM cluster did not start: {up.stderr.strip()}")
    env = {"SLURM_CONF": str(state / "slurm.conf")}
    saved = os.environ.get("SLURM_CONF")
    os.environ.update(env)
    try:
        yield env
    finally:
        subprocess.run(["bash", str(SCRIPT), "down", str(state)], timeout=60, check=False)
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved
