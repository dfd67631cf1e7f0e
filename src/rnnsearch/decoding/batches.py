"""Corpus batches in a fixed order, and results put back in input order.

Each caller keeps the batch order it has always used, because a batch's composition can change
the floating-point results (and greedy dev BLEU picks the best checkpoint): "shortest_first"
(training's greedy dev BLEU), "longest_first" (translation, decode benchmark), "input"
(reference alignments). Imports nothing from the models, so evaluation code can use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
ORDERS = ("shortest_first", "longest_first", "input")


def batch_order(lengths: Sequence[int], batch_size: int, order: str) -> list[list[int]]:
    """Sentence indices cut into batches; ties in length keep corpus order."""
    n = len(lengths)
    if order == "shortest_first":
        idx = sorted(range(n), key=lambda i: (lengths[i], i))
    elif order == "longest_first":
        idx = sorted(range(n), key=lambda i: (-lengths[i], i))
    elif order == "input":
        idx = list(range(n))
    else:
        raise ValueError(f"batch order must be one of {'|'.join(ORDERS)}, got {order!r}")
    return [idx[i : i + batch_size] for i in range(0, n, batch_size)]


def map_batches(
    lengths: Sequence[int], batch_size: int, order: str, fn: Callable[[list[int]], Sequence[T]]
) -> list[T]:
    """fn(batch indices) -> one result per index; all results, in input order."""
    out: list[Any] = [None] * len(lengths)
    for idx in batch_order(lengths, batch_size, order):
        for i, result in zip(idx, fn(idx), strict=True):
            out[i] = result
    return out
