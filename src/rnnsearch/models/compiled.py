"""One `torch.compile` wrapper per plain function, shared by every model instance.

Models store only a boolean switch and look the compiled function up here at call time, so a
model stays picklable (`torch.save`) and `copy.deepcopy` gives a copy that runs its *own*
weights: a compiled bound method stored on the module would keep pointing at the original.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)
_CACHE: dict[Callable, Callable] = {}


def compiled(fn: F) -> F:
    """`torch.compile(fn)` with automatic dynamic shapes, built once per function.

    dynamic=None ("automatic"): a second source length S or batch size B recompiles once with
    symbolic sizes. dynamic=False would recompile for every new S of a bucketed batch and fall
    back to eager, silently, after dynamo's recompile limit (8).
    """
    if fn not in _CACHE:
        _CACHE[fn] = torch.compile(fn, dynamic=None)
    return _CACHE[fn]  # type: ignore[return-value]
