"""optim.nonfinite: `stop` ends the run (test_train.py); `shrink` takes GroundHog's 0.1 p.

GroundHog (SGD_adadelta.py) replaces a non-finite gradient by 0.1 * p, unclipped, and goes on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

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


def test_shrink_takes_point_one_p_and_training_continues(
        train_cfg: Compose, caplog: pytest.LogCaptureFixture) -> None:
    spy = _InfGradient()
    with caplog.at_level(logging.WARNING, logger="rnnsearch.training.lit_module"):
        summary = run(train_cfg("experiment=rnnsearch_30", "optim.nonfinite=shrink"),
                      callbacks=[spy])
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


def test_paper_scale_shrinks_as_groundhog(compose_cfg: Compose) -> None:
    assert compose_cfg("scale=paper").optim.nonfinite == "shrink"
    assert compose_cfg().optim.nonfinite == "stop"  # demo: today's behaviour
