"""`scan_backward`: scan.py's hand-written backward equals autograd through the reference loops.

float64, random (non-paper) weights, padded batches: values and every gradient, both models,
every readout order; plus `gradcheck` of each `Function` against finite differences.
"""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from rnnsearch.models.gru import gated_update
from rnnsearch.models.scan import attention_gru_scan, gru_scan

LENGTHS = (5, 3, 2)
F64 = dict(dtype=torch.float64, requires_grad=True)


def _grads(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    loss.backward()
    return [p.grad for p in model.parameters()]


@pytest.mark.parametrize("readout_state", ["groundhog", "current", "previous"])
@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_scan_backward_equals_reference_loops(
    make_model, make_batch, name, readout_state
) -> None:
    src_ids, src_mask, tgt_in = make_batch(LENGTHS, S=7, T=6)  # two all-padding columns too
    fast = make_model(name, readout_state=readout_state, scan_backward=True).train()
    ref = make_model(name, readout_state=readout_state, scan_backward=False).train()
    out_f, out_r = fast(src_ids, src_mask, tgt_in), ref(src_ids, src_mask, tgt_in)
    assert_close(out_f, out_r, rtol=0, atol=1e-12)
    gen = torch.Generator().manual_seed(3)
    weights = torch.randn(out_f.shape, generator=gen, dtype=out_f.dtype)
    grads_f = _grads(fast, (out_f * weights).sum())
    grads_r = _grads(ref, (out_r * weights).sum())
    for (n, _), g_f, g_r in zip(fast.named_parameters(), grads_f, grads_r, strict=True):
        assert g_f is not None and g_r is not None, n
        assert_close(g_f, g_r, rtol=0, atol=1e-11, msg=n)


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_scan_backward_equals_reference_with_groundhog_layers(make_model, make_batch, name) -> None:
    """scale=paper's layers (no gate or alignment bias, factorised W_o): both paths agree."""
    src_ids, src_mask, tgt_in = make_batch(LENGTHS, S=7, T=6)
    layers = dict(gate_bias=False, attention_bias=False, output_rank=3)
    fast = make_model(name, scan_backward=True, **layers).train()
    ref = make_model(name, scan_backward=False, **layers).train()
    out_f, out_r = fast(src_ids, src_mask, tgt_in), ref(src_ids, src_mask, tgt_in)
    assert_close(out_f, out_r, rtol=0, atol=1e-12)
    grads_f, grads_r = _grads(fast, out_f.square().sum()), _grads(ref, out_r.square().sum())
    for (n, _), g_f, g_r in zip(fast.named_parameters(), grads_f, grads_r, strict=True):
        assert g_f is not None and g_r is not None, n
        assert_close(g_f, g_r, rtol=0, atol=1e-10, msg=n)


def test_scan_backward_check_is_sensitive(make_model, make_batch) -> None:
    """The comparison above would see a wrong recurrent-weight gradient."""
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    a = make_model("rnnsearch", scan_backward=True)
    b = make_model("rnnsearch", scan_backward=True)
    with torch.no_grad():
        b.encoder.cells[1].U.weight.mul_(1.001)
    a(src_ids, src_mask, tgt_in).sum().backward()
    b(src_ids, src_mask, tgt_in).sum().backward()
    diff = (a.encoder.cells[1].U.weight.grad - b.encoder.cells[1].U.weight.grad).abs().max()
    assert diff > 1e-9


def test_gru_scan_gradcheck_with_padding() -> None:
    gen = torch.Generator().manual_seed(0)
    S, D, B, H = 5, 2, 3, 4
    keep = torch.rand(S, D, B, 1, generator=gen) > 0.3  # holes anywhere, not only at the end
    x, h0 = torch.randn(S, D, B, 3 * H, **F64), torch.randn(D, B, H, **F64)
    Ug_T, U_T = torch.randn(D, H, 2 * H, **F64), torch.randn(D, H, H, **F64)
    h, ref = h0, []
    for j in range(S):
        h = torch.where(keep[j], gated_update(x[j], h, Ug_T, U_T), h)
        ref.append(h)
    assert_close(gru_scan(x, keep, h0, Ug_T, U_T), torch.stack(ref), rtol=0, atol=1e-13)
    for k in (keep, None):
        inputs = (x, h0, Ug_T, U_T)
        assert torch.autograd.gradcheck(lambda *a, k=k: gru_scan(a[0], k, *a[1:]), inputs)


@pytest.mark.parametrize("final", [True, False])
def test_attention_gru_scan_gradcheck_with_padding(final: bool) -> None:
    N, B, S, H, A, C = 4, 3, 4, 3, 3, 5
    torch.manual_seed(0)
    src_mask = torch.arange(S) < torch.tensor([[4], [2], [1]])  # (B, S)
    x, s0 = torch.randn(N, B, 3 * H, **F64), torch.randn(B, H, **F64)
    keys, ann = torch.randn(B, S, A, **F64), torch.randn(B, S, C, **F64)
    weights = [torch.randn(*s, **F64) for s in ((C, 3 * H), (H, A), (A, 1), (H, 2 * H), (H, H))]

    def run(x, s0, keys, ann, *w):
        return attention_gru_scan(x, s0, keys, ann, src_mask, *w, final)

    assert torch.autograd.gradcheck(run, (x, s0, keys, ann, *weights))


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_scan_backward_falls_back_to_reference_under_autocast(make_model, make_batch, name):
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    fast = make_model(name, scan_backward=True, dtype=torch.float32).train()
    ref = make_model(name, dtype=torch.float32).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_f, out_r = fast(src_ids, src_mask, tgt_in), ref(src_ids, src_mask, tgt_in)
    assert out_f.dtype == torch.bfloat16
    assert torch.equal(out_f, out_r)  # the same (reference) loops ran
