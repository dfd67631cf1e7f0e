"""`keep_freed_memory` (rnnsearch.host_memory): with it, glibc serves a large tensor from the heap
and reuses it after a free (no new mapping, no page faults); without it, from a fresh mmap.

Each case runs in its own interpreter: the setting is process-wide and one-way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import TINY, compose_config

from rnnsearch import translate
from rnnsearch.host_memory import _glibc
from rnnsearch.training import fit

pytestmark = pytest.mark.skipif(_glibc() is None, reason="glibc only (mallopt, mallinfo2)")

# Allocates a 256 MB tensor, frees it, allocates a 240 MB one, and prints: the bytes glibc holds
# in mmapped blocks while the first is alive (mallinfo2().hblkhd), and the minor page faults of
# writing the second. (A smaller one: torch's 64-byte-aligned request for the same size needs a
# little more than the freed block, so glibc may place it elsewhere.)
PROBE = """
import ctypes, ctypes.util, resource, sys
import torch
from rnnsearch.host_memory import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = MallInfo2
applied = keep_freed_memory(sys.argv[1] == "on")
x = torch.ones(64 << 20)  # 256 MB
mapped = libc.mallinfo2().hblkhd
del x
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
y = torch.ones(60 << 20)  # 240 MB
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(applied, mapped, faults)
"""


def _probe(setting: str) -> tuple[bool, int, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, setting], check=True, text=True,
                         capture_output=True, timeout=120).stdout.split()
    return out[0] == "True", int(out[1]), int(out[2])


def test_kept_memory_serves_large_tensors_from_the_heap_and_reuses_them() -> None:
    applied, mapped, faults = _probe("on")
    assert applied
    assert mapped < 64 << 20  # the 256 MB block is not an mmap
    assert faults < 1000  # written into the freed block's pages: no new page faults


def test_without_it_a_large_tensor_is_a_fresh_mapping_each_time() -> None:
    applied, mapped, faults = _probe("off")
    assert not applied
    assert mapped >= 256 << 20  # glibc's default: served by mmap
    assert faults > 30_000  # unmapped on free: the 61,440 pages of 4 KB fault in again


class AppliedError(Exception):
    """Raised by the stand-in for keep_freed_memory: the entry reached it, with this value."""


def _stand_in(enabled: bool) -> bool:
    raise AppliedError(enabled)


@pytest.mark.parametrize("entry", [fit, translate], ids=["train", "translate"])
@pytest.mark.parametrize("value", [True, False])
def test_train_and_translate_apply_the_config_value(
        entry, value: bool, tmp_path: Path, prepared_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "keep_freed_memory", _stand_in)
    overrides = [f"data.prepared_dir={prepared_dir}", *TINY]
    if not value:
        overrides.append("keep_freed_memory=false")
    cfg = compose_config(tmp_path, *overrides)
    assert cfg.keep_freed_memory is value  # on unless turned off (conf/config.yaml)
    with pytest.raises(AppliedError) as applied:
        entry.run(cfg)
    assert applied.value.args == (value,)
