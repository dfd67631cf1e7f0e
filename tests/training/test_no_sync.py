"""A training update that does not log reads no tensor on the host (no device-to-host sync).

A host read of a CUDA tensor (`.item()`, `float()`, `bool()`, `if tensor:`) waits for every
queued kernel and stalls the GPU. On the CPU the same reads show up as `aten::item` /
`aten::_local_scalar_dense` calls, which a `TorchDispatchMode` counts: from the start of a
non-logging update to the start of the next (forward, backward, the non-finite rule, clipping,
the optimizer step, every callback, logging and the progress report) the count must be 0. Ops
whose output size depends on the values (`nonzero`, boolean indexing, ...) sync on CUDA too and
are counted alike. `.tolist()`, `.numpy()` and `.cpu()` of a CPU tensor do not dispatch, so only
tests/gpu/test_cuda_no_sync.py (CUDA's sync debug mode) sees those.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

import lightning as L
import pytest
import torch
from omegaconf import DictConfig
from torch.utils._python_dispatch import TorchDispatchMode

from rnnsearch.training.fit import run

Compose = Callable[..., DictConfig]
HOST_READS = {"aten::item", "aten::_local_scalar_dense"}
SIZE_FROM_VALUES = {"aten::nonzero", "aten::masked_select", "aten::_unique2", "aten::unique_dim",
                    "aten::unique_consecutive", "aten::repeat_interleave"}  # sync on CUDA
# log_every_n_steps=3: updates 2, 5 and 8 log (5 is the first with train/tok_s); 6 and 7 come
# after two logging steps (Lightning keeps what was logged) and neither log, validate nor save
SCHEDULE = ("trainer.max_steps=10", "trainer.log_every_n_steps=3",
            "trainer.val_check_interval=10", "trainer.checkpoint_every_n_steps=10")
QUIET, LOGGING = (6, 8), (5, 6)  # [first, end) updates counted


class _HostReads(TorchDispatchMode):
    """Records each host read of a tensor, with the line that made it."""

    def __init__(self, exempt: set[int]) -> None:
        super().__init__()
        self.exempt, self.reads = exempt, []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:  # noqa: D105
        name = func._schema.name
        if (name in HOST_READS and args[0].data_ptr() not in self.exempt
                or name in SIZE_FROM_VALUES or name == "aten::index" and _bool_index(args)):
            self.reads.append(f"{name} from\n" + "".join(traceback.format_stack(limit=6)[:-1]))
        return func(*args, **(kwargs or {}))


def _bool_index(args: Any) -> bool:
    """`x[mask]`: aten::index with a bool index (its size is the mask's count)."""
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1])


class _CountUpdates(L.Callback):
    """Counts host reads from the start of update `first` to the start of update `end`."""

    def __init__(self, first: int, end: int) -> None:
        self.first, self.end = first, end
        self.mode: _HostReads | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: D102
        if trainer.global_step == self.first:
            self.mode = _HostReads(_cpu_step_counters(trainer.optimizers[0]))
            self.mode.__enter__()
        elif trainer.global_step == self.end and self.mode is not None:
            self.mode.__exit__(None, None, None)


def _cpu_step_counters(optimizer: torch.optim.Optimizer) -> set[int]:
    """Adam's per-weight step counts: torch keeps them on the CPU even for CUDA weights (when not
    capturable or fused), so its `.item()` on them reads no device. Adadelta has none."""
    return {s["step"].data_ptr() for s in optimizer.state.values()
            if isinstance(s.get("step"), torch.Tensor) and s["step"].device.type == "cpu"}


def _count(train_cfg: Compose, overrides: tuple[str, ...], updates: tuple[int, int]) -> list[str]:
    spy = _CountUpdates(*updates)
    run(train_cfg("experiment=rnnsearch_30", *SCHEDULE, *overrides), callbacks=[spy])
    assert spy.mode is not None
    return spy.mode.reads


@pytest.mark.parametrize("overrides", [
    ("optim=adadelta", "optim.nonfinite=stop"),  # the paper's optimizer, the demo's rule
    ("optim=adadelta", "optim.nonfinite=shrink"),  # scale=paper: GroundHog's rule
    (),  # the demo's Adam with the cosine decay
], ids=["adadelta-stop", "adadelta-shrink", "demo-adam"])
def test_non_logging_update_reads_nothing_on_the_host(train_cfg: Compose,
                                                      overrides: tuple[str, ...]) -> None:
    reads = _count(train_cfg, overrides, QUIET)
    assert not reads, f"{len(reads)} host reads in updates {QUIET}; the first from:\n{reads[0]}"


def test_non_logging_update_with_the_live_progress_bar_reads_nothing(
        train_cfg: Compose, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # trainer.py: the live TQDM bar
    reads = _count(train_cfg, ("optim=adadelta", "trainer.enable_progress_bar=true"), QUIET)
    assert not reads, f"{len(reads)} host reads in updates {QUIET}; the first from:\n{reads[0]}"


def test_logging_update_does_read_so_the_count_can_fail(train_cfg: Compose) -> None:
    # the logging step reads the logged values and the non-finite record: the counter sees them
    assert _count(train_cfg, ("optim=adadelta",), LOGGING)
