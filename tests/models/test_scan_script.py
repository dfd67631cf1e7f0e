"""scan_loops.py: the TorchScript loops are bit-identical to the same loops run eagerly.

float32 (where rounding differences would show), padded batches, both models, both `final`
settings of the attention scan; plus the scripting itself (no fallback on this torch, no
deprecation warning escaping, an eager fallback with a warning where scripting fails).
"""

from __future__ import annotations

import warnings

import pytest
import torch

from rnnsearch.models import scan_loops

LOOPS = (scan_loops.gru_loop, scan_loops.gru_backprop_loop, scan_loops.attention_gru_loop,
         scan_loops.attention_gru_backprop_loop)


def _output_and_grads(model, batch, script: bool, monkeypatch) -> list[torch.Tensor]:
    monkeypatch.setattr(scan_loops, "SCRIPT", script)
    model.zero_grad(set_to_none=True)
    out = model(*batch)
    gen = torch.Generator().manual_seed(3)
    (out * torch.randn(out.shape, generator=gen)).sum().backward()
    return [out.detach()] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("readout_state", ["groundhog", "current"])  # final c_N: yes / no
@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_scripted_scan_loops_bit_identical_to_eager(
    make_model, make_batch, monkeypatch, name, readout_state
) -> None:
    batch = make_batch((7, 4, 1, 6), S=9, T=5)  # two all-padding columns too
    model = make_model(name, readout_state=readout_state, scan_backward=True,
                       dtype=torch.float32).train()
    scripted = _output_and_grads(model, batch, True, monkeypatch)
    eager = _output_and_grads(model, batch, False, monkeypatch)
    names = ["output"] + [n for n, _ in model.named_parameters()]
    for n, a, b in zip(names, scripted, eager, strict=True):
        assert a is not None and torch.equal(a, b), n


def test_scan_loops_compile_to_torchscript_without_warnings(monkeypatch) -> None:
    monkeypatch.setattr(scan_loops, "_SCRIPTED", {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's DeprecationWarning for torch.jit.script too
        compiled = [scan_loops.scripted(fn) for fn in LOOPS]
    assert all(isinstance(fn, torch.jit.ScriptFunction) for fn in compiled)


def test_failed_scripting_falls_back_to_eager_with_a_warning(monkeypatch) -> None:
    def broken(fn):
        raise RuntimeError("no TorchScript here")

    monkeypatch.setattr(scan_loops, "_SCRIPTED", {})
    monkeypatch.setattr(torch.jit, "script", broken)
    with pytest.warns(UserWarning, match="run eagerly.*no TorchScript here"):
        fn = scan_loops.scripted(scan_loops.gru_loop)
    assert fn is scan_loops.gru_loop
    x, h0 = torch.randn(3, 1, 2, 6), torch.randn(1, 2, 2)  # (S, D, B, 3H), (D, B, H)
    Ug_T, U_T = torch.randn(1, 2, 4), torch.randn(1, 2, 2)
    states = torch.empty(3, 1, 2, 2)
    scan_loops.run(scan_loops.gru_loop, x[..., :4].contiguous(), x[..., 4:].contiguous(), None,
                   h0, Ug_T, U_T, torch.empty(3, 1, 2, 4), torch.empty(3, 1, 2, 2), states)
    assert torch.isfinite(states).all() and not torch.equal(states[0], h0)
