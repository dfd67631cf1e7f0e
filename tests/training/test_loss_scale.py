"""optim.loss_scale: the gradient is taken of the summed minibatch NLL (GroundHog), or of it
divided by the number of pairs or of target tokens; the logged NLL is the same in every case."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

from rnnsearch.config import AdadeltaConfig, ModelConfig, OptimConfig
from rnnsearch.data.batching import collate_pairs
from rnnsearch.training.lit_module import TranslationModule

PAIRS = [(np.array([4, 5, 6]), np.array([7, 8])), (np.array([9]), np.array([4, 5, 6, 7]))]


def _step(scale: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = asdict(ModelConfig(emb_dim=4, hidden_dim=6, attn_dim=5, maxout_dim=3))
    optim = asdict(OptimConfig(optimizer=AdadeltaConfig(), loss_scale=scale))
    module = TranslationModule(model, optim, 12, 12)
    return module.training_step(collate_pairs(PAIRS), 0)


def test_each_scale_divides_the_summed_nll_by_its_count() -> None:
    out = {s: _step(s) for s in ("sum", "sentence", "token")}
    nll = out["sum"]["nll_sum"]
    assert out["sum"]["n_tokens"] == 2 + 1 + 4 + 1  # EOS counted, PAD not
    assert out["sum"]["loss"].item() == pytest.approx(nll.item())
    assert out["sentence"]["loss"].item() == pytest.approx(nll.item() / 2)
    assert out["token"]["loss"].item() == pytest.approx(nll.item() / 8)
    for o in out.values():  # the logged NLL does not depend on the scale
        assert o["nll_sum"].item() == pytest.approx(nll.item())


def test_the_paper_default_is_the_sum() -> None:
    assert OptimConfig().loss_scale == "sum"
