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


def _grads(scale: str, fused: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    model = asdict(ModelConfig(emb_dim=4, hidden_dim=6, attn_dim=5, maxout_dim=3,
                               output_rank=2, fused_output_loss=fused, output_loss_chunk=3))
    optim = asdict(OptimConfig(optimizer=AdadeltaConfig(), loss_scale=scale))
    module = TranslationModule(model, optim, 12, 12).double()
    out = module.training_step(collate_pairs(PAIRS), 0)
    out["loss"].backward()
    return out["loss"].detach(), {n: p.grad for n, p in module.named_parameters()}


@pytest.mark.parametrize("scale", ["sum", "sentence", "token"])
def test_fused_output_loss_gives_the_same_loss_and_gradients_at_every_scale(scale: str) -> None:
    """model.fused_output_loss (no (B, T, V) logits) against the dense loss, float64, with the
    padded labels of a two-pair batch and the factorised W_o."""
    ref, ref_grads = _grads(scale, fused=False)
    fused, grads = _grads(scale, fused=True)
    torch.testing.assert_close(fused, ref, rtol=1e-12, atol=1e-12)
    assert grads.keys() == ref_grads.keys()
    for n, g in grads.items():
        torch.testing.assert_close(g, ref_grads[n], rtol=1e-10, atol=1e-12, msg=n)
