"""Host memory reuse: glibc's malloc keeps freed blocks for the process instead of returning them.

Ours, a speed setting (`keep_freed_memory` in conf/config.yaml), not the paper's. At paper size
a CPU training update allocates and frees tensors of tens to hundreds of MB (the fused loss's
1,024 x 30,000 chunks, the recurrences' saved gates). glibc serves every block over its mmap
threshold (32 MB at most) with a fresh `mmap` and unmaps it on free, so each update touches
those pages anew: ~0.5M page faults and 0.7-1.7 s of kernel time per update
(benchmarks/README.md). With `mmap` off for the heap and the heap never trimmed, a freed block
is reused by the next allocation without a page fault. The arithmetic is untouched; the cost is
that the process keeps its peak heap until it exits (peak RSS +4-8 % at paper size).
This is what PyTorch's CPU tuning guide gets by preloading jemalloc or tcmalloc, done with the
allocator every Linux Python already has. Elsewhere (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# mallopt(3) parameters, <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
NEVER_TRIM = 2**31 - 1  # the largest int: freed memory at the heap's top stays mapped


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (has mallopt and gnu_get_libc_version), else None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version")):
        return None
    return libc


def keep_freed_memory(enabled: bool) -> bool:
    """Make glibc's malloc keep freed memory for reuse (see the module docstring).

    Process-wide and one-way (the setting stays until the process exits); call it before the
    large allocations start. Returns True when the setting took effect, False when `enabled`
    is False or the C library is not glibc.
    """
    if not enabled:
        return False
    libc = _glibc()
    if libc is None:
        log.debug("keep_freed_memory: not glibc, malloc left as it is")
        return False
    # mallopt returns 1 on success, 0 on error
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
