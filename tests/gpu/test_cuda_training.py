"""Training on CUDA: bf16 autocast and the cuDNN encoder learn; a paper-size update fits."""

from __future__ import annotations

import pytest
import torch
from _common import make_update, paper_optimizer

pytestmark = pytest.mark.gpu


def _losses(model: torch.nn.Module, batch: tuple, dtype: str, steps: int = 60) -> list[float]:
    update = make_update(model, paper_optimizer(model), batch, dtype)
    return [float(update()) for _ in range(steps)]


def _assert_learns(losses: list[float]) -> None:
    # Adadelta's first steps are small (App. B.2: its step sizes ramp up); 60 updates on one
    # batch lower the loss by ~0.3-0.6 nats at tiny size (measured on the CPU).
    assert all(torch.isfinite(torch.tensor(losses))), losses
    assert losses[-1] < losses[0] - 0.2, losses
    assert sum(losses[-10:]) < sum(losses[:10]), losses


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_bf16_autocast_run_trains_on_cuda(cuda, tiny_model, padded_batch, name) -> None:
    model = tiny_model(name).to(cuda)
    batch = tuple(t.to(cuda) for t in padded_batch(model.vocab_size))
    _assert_learns(_losses(model, batch, "bf16"))
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay fp32


def test_cudnn_encoder_trains_on_cuda(cuda, tiny_model, padded_batch) -> None:
    model = tiny_model("rnnsearch", encoder_cell="cudnn").to(cuda)
    assert isinstance(model.encoder.rnn, torch.nn.GRU)
    batch = tuple(t.to(cuda) for t in padded_batch(model.vocab_size))
    _assert_learns(_losses(model, batch, "fp32"))


def test_paper_size_update_fits_on_cuda(cuda, tiny_model) -> None:
    model = tiny_model("rnnsearch", size="paper").to(cuda)
    B, S, T, V = 80, 50, 50, model.vocab_size  # Sec. 4.2: minibatches of 80, sentences <= 50
    src = torch.randint(4, V, (B, S), device=cuda)
    tgt = torch.randint(4, V, (B, T + 1), device=cuda)
    batch = (src, torch.ones_like(src, dtype=torch.bool), tgt[:, :-1], tgt[:, 1:])
    torch.cuda.reset_peak_memory_stats(cuda)
    loss = make_update(model, paper_optimizer(model), batch)()
    assert torch.isfinite(loss) and abs(float(loss) - torch.log(torch.tensor(V)).item()) < 0.5
    assert torch.cuda.max_memory_allocated(cuda) < 1.5 * _paper_update_bytes(model, B, S, T, V)


def _paper_update_bytes(model: torch.nn.Module, B: int, S: int, T: int, V: int) -> int:
    """Expected peak of one fp32 paper-size update (about 3 GiB): weights, gradients and the 2
    Adadelta accumulators (4 copies of 80.4M floats, 1.3 GB); the logits (B, T, V), their
    log-softmax and its gradient (3 x 0.5 GB); the attention pre-activations tanh(W s + U h)
    (B, T, S, A) kept for the backward (0.8 GB)."""
    n_params = sum(p.numel() for p in model.parameters())
    attn_dim = model.decoder.attention.key_proj.out_features if model.has_attention else 0
    return 4 * (4 * n_params + 3 * B * T * V + B * T * S * attn_dim)
