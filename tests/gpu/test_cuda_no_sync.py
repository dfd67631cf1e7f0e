"""On CUDA, a training update that does not log never synchronises with the host, and the
non-finite rules (nonfinite.py) work on the device: CUDA's own sync debug mode raises on any
synchronising call (`.item()`, `.cpu()`, `.tolist()`, `nonzero`, a blocking copy) in between."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import pytest
import torch
from omegaconf import DictConfig

from rnnsearch.training.fit import run as train

pytestmark = pytest.mark.gpu
Compose = Callable[..., DictConfig]
GPU = ("trainer.accelerator=gpu", "experiment=rnnsearch_30", "optim=adadelta",
       "trainer.max_steps=8", "trainer.log_every_n_steps=4", "trainer.val_check_interval=8",
       "trainer.checkpoint_every_n_steps=8")
# as tests/training/test_no_sync.py: updates 2, 5 and 8 log; 6 and 7 come after two of them
QUIET = ("trainer.max_steps=10", "trainer.log_every_n_steps=3", "trainer.val_check_interval=10",
         "trainer.checkpoint_every_n_steps=10")


class _SyncsAreErrors(L.Callback):
    """Sync debug mode "error" from the start of update 6 to the start of update 8 (updates 6
    and 7 neither log, validate nor checkpoint)."""

    def __init__(self) -> None:
        self.covered = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: D102
        if trainer.global_step == 6:
            torch.cuda.set_sync_debug_mode("error")
        elif trainer.global_step == 8:
            torch.cuda.set_sync_debug_mode("default")
            self.covered = True

    def on_exception(self, trainer, pl_module, exception) -> None:  # noqa: D102
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("rule", ["stop", "shrink"])
def test_non_logging_updates_do_not_sync_on_cuda(cuda, train_cfg: Compose, rule: str) -> None:
    spy = _SyncsAreErrors()
    summary = train(train_cfg(*GPU, *QUIET, f"optim.nonfinite={rule}"), callbacks=[spy])
    assert spy.covered and summary["updates"] == 10


class _InfGradient(L.Callback):
    """An infinite gradient at update 2; the gradient the optimizer used, kept after it."""

    def __init__(self) -> None:
        self.params: list[torch.Tensor] = []
        self.grads: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: D102
        if trainer.global_step == 2:
            self.params = [p.detach().clone() for p in pl_module.model.parameters()]

    def on_after_backward(self, trainer, pl_module) -> None:  # noqa: D102
        if trainer.global_step == 2:
            next(pl_module.model.parameters()).grad[0, 0] = float("inf")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: D102
        if trainer.global_step == 3:
            self.grads = [p.grad.detach().clone() for p in pl_module.model.parameters()]


def test_shrink_on_cuda_takes_point_one_p(cuda, train_cfg: Compose) -> None:
    spy = _InfGradient()
    train(train_cfg(*GPU, "optim.nonfinite=shrink"), callbacks=[spy])
    for p, g in zip(spy.params, spy.grads, strict=True):
        assert g.device.type == "cuda"
        torch.testing.assert_close(g, 0.1 * p, rtol=0, atol=0)


def test_stop_on_cuda_ends_at_the_logging_step(cuda, train_cfg: Compose) -> None:
    with pytest.raises(FloatingPointError, match=r"gradient norm at step 2 \(found at step 4"):
        train(train_cfg(*GPU, "optim.nonfinite=stop"), callbacks=[_InfGradient()])
