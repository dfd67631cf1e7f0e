"""`fused_output_loss`: the softmax layer and the summed NLL over row chunks, with a hand-written
backward, equal to the dense logits + `F.cross_entropy` (float64: loss and every gradient)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tests.models.conftest import TGT_VOCAB

from rnnsearch.data.vocab import PAD_ID
from rnnsearch.models.fused_loss import linear_cross_entropy_sum


def _inputs(N: int = 9, R: int = 5, V: int = 7, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    t = torch.randn(N, R, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(V, R, generator=gen, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(V, generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, V, (N,), generator=gen)
    target[[1, N // 2, N - 1]] = PAD_ID  # padding, ignored
    return t, weight, bias, target


@pytest.mark.parametrize("chunk", [1, 4, 9, 100])
def test_loss_and_every_gradient_equal_dense_cross_entropy(chunk: int) -> None:
    t, weight, bias, target = _inputs()
    upstream = torch.tensor(0.37, dtype=torch.float64)  # a loss scale: 1, 1/B or 1/tokens
    ref = F.cross_entropy(t @ weight.T + bias, target, ignore_index=PAD_ID, reduction="sum")
    ref_grads = torch.autograd.grad(ref * upstream, (t, weight, bias))
    fused = linear_cross_entropy_sum(t, weight, bias, target, PAD_ID, chunk)
    grads = torch.autograd.grad(fused * upstream, (t, weight, bias))
    assert fused.dtype == torch.float64
    torch.testing.assert_close(fused, ref, rtol=1e-12, atol=1e-12)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-12)
    assert grads[0][[1, 4, 8]].abs().max() == 0  # padded positions get no gradient


def test_gradcheck_and_no_grad_forward() -> None:
    t, weight, bias, target = _inputs(N=5, R=3, V=4)
    assert torch.autograd.gradcheck(
        lambda a, w, b: linear_cross_entropy_sum(a, w, b, target, PAD_ID, 2), (t, weight, bias))
    ref = F.cross_entropy(t @ weight.T + bias, target, ignore_index=PAD_ID, reduction="sum")
    for mode in (torch.no_grad, torch.inference_mode):  # dev NLL (Lightning: inference_mode)
        with mode():
            loss = linear_cross_entropy_sum(t, weight, bias, target, PAD_ID, 2)
        torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-12)


def test_a_confident_row_keeps_its_small_nll_in_float32() -> None:
    """Label logit 200, the others 12 below it: -log p(y) = log(1 + 6 e^-12) = 3.7e-5 per row.
    Summed as (max + log total) - z_y in float32 it would round to a multiple of 1.5e-5 (the
    spacing at 200); in log-softmax's order it keeps float32's relative precision, as the
    dense cross-entropy does."""
    N, V = 6, 7
    target = torch.arange(N)  # row n's label is word n
    t = torch.eye(N, V)[:, :V - 1].contiguous()  # (N, R = V - 1): one-hot rows
    weight = torch.full((V, V - 1), 188.0)
    weight[:V - 1] += 12.0 * torch.eye(V - 1)  # (V, R): z = 200 for the label, 188 elsewhere
    bias = torch.zeros(V)
    exact = F.cross_entropy((t @ weight.T + bias).double(), target, reduction="sum")
    dense = F.cross_entropy(t @ weight.T + bias, target, reduction="sum")
    fused = linear_cross_entropy_sum(t, weight, bias, target, -100, 4)  # no padding
    assert float(exact) == pytest.approx(N * 6 * 2.718281828**-12, rel=1e-3)
    assert float(fused) == pytest.approx(float(exact), rel=1e-2)  # float32: log(1 + 3.7e-5)
    assert float(fused) == pytest.approx(float(dense), rel=1e-2)


def _tgt_out(tgt_in: torch.Tensor) -> torch.Tensor:
    """Labels with padding at the end of two rows (tgt_in shifted, as a batch has it)."""
    out = torch.roll(tgt_in, -1, dims=1)  # (B, T)
    out[1, -1] = PAD_ID
    out[2, -2:] = PAD_ID
    return out


def _loss_and_grads(model, batch, tgt_out):
    model.zero_grad(set_to_none=True)
    loss = model.summed_nll(*batch, tgt_out, PAD_ID)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters()}


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
@pytest.mark.parametrize("readout_state", ["groundhog", "current"])
@pytest.mark.parametrize("output_rank", [None, 3])
@pytest.mark.parametrize("scan_backward", [False, True])
def test_model_nll_and_every_parameter_gradient_equal_the_dense_path(
    make_model, make_batch, name, readout_state, output_rank, scan_backward
) -> None:
    """Every parameter (W_o, its bias, W_o's low-rank factor, the maxout's U_o/V_o/C_o and all
    below them) gets the dense path's gradient, with padded labels, in float64."""
    batch = make_batch((5, 3, 2), T=5)
    tgt_out = _tgt_out(batch[2])
    flags = dict(readout_state=readout_state, output_rank=output_rank,
                 scan_backward=scan_backward)
    ref, ref_grads = _loss_and_grads(make_model(name, **flags), batch, tgt_out)
    fused_model = make_model(name, fused_output_loss=True, output_loss_chunk=4, **flags)
    fused, grads = _loss_and_grads(fused_model, batch, tgt_out)
    torch.testing.assert_close(fused, ref, rtol=1e-12, atol=1e-12)
    assert grads.keys() == ref_grads.keys()
    assert (output_rank is not None) == any("W_o_low" in n for n in grads)
    for n, g in grads.items():
        torch.testing.assert_close(g, ref_grads[n], rtol=1e-10, atol=1e-12, msg=n)


def test_model_nll_equals_log_probs_of_the_step_loop(make_model, make_batch) -> None:
    """Against the reference of references: `forward` with `fused_forward: false`."""
    batch = make_batch((5, 3, 2), T=5)
    tgt_out = _tgt_out(batch[2])
    log_probs = make_model(fused_forward=False)(*batch)  # (B, T, V)
    keep = tgt_out != PAD_ID
    ref = -log_probs.gather(2, tgt_out.unsqueeze(2)).squeeze(2)[keep].sum()
    fused = make_model(fused_output_loss=True, output_loss_chunk=2).summed_nll(
        *batch, tgt_out, PAD_ID)
    torch.testing.assert_close(fused, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("output_rank", [None, 3])
def test_bf16_autocast_close_to_the_unfused_path(make_model, make_batch, output_rank) -> None:
    """CPU bf16 autocast: products in bf16, the softmax in float32, as the dense path does;
    the two round differently, so the tolerance is bf16's."""
    batch = make_batch((5, 3, 2), T=5)
    tgt_out = _tgt_out(batch[2])
    results = []
    for fused in (False, True):
        model = make_model(dtype=torch.float32, output_rank=output_rank,
                           fused_output_loss=fused, output_loss_chunk=4)
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model.summed_nll(*batch, tgt_out, PAD_ID)
        loss.backward()
        assert loss.dtype == torch.float32
        results.append((loss.detach(), {n: p.grad for n, p in model.named_parameters()}))
    (ref, ref_grads), (fused, grads) = results
    torch.testing.assert_close(fused, ref, rtol=2e-2, atol=1e-2)
    for n, g in grads.items():
        assert g.dtype == torch.float32, n
        scale = ref_grads[n].abs().max().clamp(min=1e-3)
        assert (g - ref_grads[n]).abs().max() / scale < 5e-2, n


def test_vocabulary_size_is_the_fixture_s() -> None:
    """The model tests above run a vocabulary larger than a chunk's rows."""
    assert TGT_VOCAB > 4
