"""optim.nonfinite: `stop` ends the run (test_train.py); `shrink` takes GroundHog's 0.1 p.

GroundHog (SGD_adadelta.py) replaces a non-finite gradient by 0.1 * p, unclipped, and goes on.
Both rules run on the device; the host reads what happened at the next logging step (or
checkpoint, or validation): with `trainer=smoke` (log_every_n_steps=1) that is the very update,
with log_every_n_steps=4 a `stop` run ends a few updates later, naming the range it checked.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import DictConfig

from rnnsearch.training.fit import run

Compose = Callable[..., DictConfig]
POISON_STEP = 2


class _InfGradient(L.Callback):
    """At one step: poison a gradient, and record the parameters and what the optimizer saw."""

    def __init__(self) -> None:
        self.params: list[torch.Tensor] = []
        self.grads: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: D102
        if trainer.global_step == POISON_STEP:
            self.params = [p.detach().clone() for p in pl_module.model.parameters()]

    def on_after_backward(self, trainer, pl_module) -> None:  # noqa: D102
        if trainer.global_step == POISON_STEP:
            next(pl_module.model.parameters()).grad[0, 0] = float("inf")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: D102
        if trainer.global_step == POISON_STEP + 1:  # just stepped; zero_grad comes next batch
            self.grads = [p.grad.detach().clone() for p in pl_module.model.parameters()]


@pytest.mark.parametrize("log_every", [1, 4])
def test_shrink_takes_point_one_p_and_training_continues(
        train_cfg: Compose, caplog: pytest.LogCaptureFixture, log_every: int) -> None:
    spy = _InfGradient()
    with caplog.at_level(logging.WARNING, logger="rnnsearch.training.nonfinite"):
        summary = run(train_cfg("experiment=rnnsearch_30", "optim.nonfinite=shrink",
                                f"trainer.log_every_n_steps={log_every}"), callbacks=[spy])
    assert summary["updates"] == 6 and math.isfinite(summary["train_nll_token"])
    assert spy.params and len(spy.grads) == len(spy.params)
    # the gradient the optimizer stepped with is 0.1 p, not clipped to norm 1
    for p, g in zip(spy.params, spy.grads, strict=True):
        torch.testing.assert_close(g, 0.1 * p, rtol=0, atol=0)
    assert torch.linalg.vector_norm(torch.cat([g.flatten() for g in spy.grads])) > 1.0
    lines = [r.getMessage() for r in caplog.records if "non-finite" in r.getMessage()]
    assert len(lines) == 1 and f"at step {POISON_STEP}" in lines[0]


def test_stop_ends_the_run_on_the_same_gradient(train_cfg: Compose) -> None:
    with pytest.raises(FloatingPointError, match=f"non-finite gradient norm .* step {POISON_STEP}"):
        run(train_cfg("experiment=rnnsearch_30", "optim.nonfinite=stop"),
            callbacks=[_InfGradient()])


def test_stop_is_found_at_the_next_check_and_no_later_checkpoint_is_written(
        train_cfg: Compose, tmp_path: Path) -> None:
    # checkpoint after update 2 (clean); update 2 poisoned; update 4 would log and checkpoint
    cfg = train_cfg("experiment=rnnsearch_30", "optim.nonfinite=stop", "trainer.max_steps=8",
                    "trainer.log_every_n_steps=4", "trainer.checkpoint_every_n_steps=2",
                    "trainer.val_check_interval=8")
    with pytest.raises(FloatingPointError, match=(
            rf"non-finite gradient norm at step {POISON_STEP} \(found at step 4, checking "
            rf"updates 2-3\).*last good checkpoint: .*last\.ckpt")):
        run(cfg, callbacks=[_InfGradient()])
    model_dir = tmp_path / "artifacts/models/rnnsearch_30"
    last = torch.load(model_dir / "last.ckpt", weights_only=True)
    assert last["global_step"] == POISON_STEP
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values())
    assert sorted(p.name for p in (model_dir / "checkpoints").iterdir()) == ["step0000002.ckpt"]


def test_paper_scale_shrinks_as_groundhog(compose_cfg: Compose) -> None:
    assert compose_cfg("scale=paper").optim.nonfinite == "shrink"
    assert compose_cfg().optim.nonfinite == "stop"  # demo: today's behaviour
