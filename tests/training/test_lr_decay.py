"""optim.lr_decay: cosine from lr to lr_min_ratio x lr over the run's updates; none = constant."""

from __future__ import annotations

from dataclasses import asdict

import lightning as L
import pytest
import torch

from rnnsearch.config import ModelConfig
from rnnsearch.training.lit_module import TranslationModule

MODEL = asdict(ModelConfig(emb_dim=4, hidden_dim=4, attn_dim=4, maxout_dim=2))


def _module(lr_decay: str, max_steps: int = 10) -> TranslationModule:
    optim = {"optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01,
                           "eps": 1e-8, "weight_decay": 0.0},
             "grad_clip_norm": 1.0, "loss_scale": "token", "lr_decay": lr_decay,
             "lr_min_ratio": 0.1}
    module = TranslationModule(MODEL, optim, 8, 8)
    module.trainer = L.Trainer(max_steps=max_steps, logger=False, enable_checkpointing=False,
                               enable_progress_bar=False, enable_model_summary=False)
    return module


def _rates(config) -> list[float]:
    optimizer, schedule = config["optimizer"], config["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(11):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


def test_cosine_decays_from_lr_to_the_floor_at_the_last_update() -> None:
    config = _module("cosine").configure_optimizers()
    assert config["lr_scheduler"]["interval"] == "step"  # per update, not per epoch
    rates = _rates(config)
    assert rates[0] == pytest.approx(0.01)
    assert rates[5] == pytest.approx(0.01 * (0.1 + 0.9 * 0.5))  # half way: the mean
    assert rates[10] == pytest.approx(0.001)  # lr_min_ratio x lr at max_steps
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_none_is_the_plain_optimizer() -> None:
    optimizer = _module("none").configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.param_groups[0]["lr"] == 0.01
