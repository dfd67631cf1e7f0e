"""ATen operators dispatched by a piece of eager code, counted with a `TorchDispatchMode`.

On a GPU each one is (at least) one kernel launch with ~5-15 us of host time, so the count
bounds eager throughput whatever the device's speed; following it on the CPU shows what a
change does to launches. Counted below autograd: a forward op, each op of its backward and
every optimizer op (a `_foreach_*` op counts once). Not meaningful for compiled code (its
kernels are not ATen dispatches) or inside a CUDA graph (one replay).
"""

from __future__ import annotations

from collections.abc import Callable

from torch.utils._python_dispatch import TorchDispatchMode


class OpCounter(TorchDispatchMode):
    """Counts every ATen call made while it is active (`with OpCounter() as c: ...; c.count`)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_aten_ops(fn: Callable[[], object]) -> int:
    """ATen operators one call of `fn` dispatches (the call is made once more, counted)."""
    with OpCounter() as counter:
        fn()
    return counter.count
