"""`scan_backward` on CUDA: the same loss and gradients as on the CPU, and CUDA-graph capture."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.testing import assert_close

pytestmark = pytest.mark.gpu


def _grads(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    loss.backward()
    return [p.grad for p in model.parameters()]


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_scan_backward_on_cuda_equals_cpu_and_captures(cuda, tiny_model, padded_batch,
                                                       name) -> None:
    """Same loss and gradients on CUDA (float64, random weights); the forward + backward
    records in a CUDA graph (the encoder's host-syncing mask check skips itself while a stream
    captures)."""
    cpu = tiny_model(name, random=True, scan_backward=True).double().train()
    gpu = copy.deepcopy(cpu).to(cuda)
    batch = padded_batch(cpu.vocab_size)[:3]  # src (B, S), mask (B, S), tgt_in (B, T)
    cuda_batch = [t.to(cuda) for t in batch]
    loss_c = cpu(*batch).logsumexp(-1).sum()
    loss_g = gpu(*cuda_batch).logsumexp(-1).sum()
    assert_close(loss_g.cpu(), loss_c, rtol=0, atol=1e-10)
    for p_c, p_g in zip(_grads(cpu, loss_c), _grads(gpu, loss_g), strict=True):
        assert_close(p_g.cpu(), p_c, rtol=0, atol=1e-10)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        gpu(*cuda_batch).sum().backward()  # warm-up on a side stream (PyTorch's recipe)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = gpu(*cuda_batch)
    graph.replay()
    assert_close(out.cpu(), cpu(*batch), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_scan_loops_as_torchscript_on_cuda_bit_identical_to_eager(
    cuda, tiny_model, padded_batch, monkeypatch, name
) -> None:
    """fp32 on CUDA: the loops of scan.py as TorchScript (scan_loops.py) give the same bits as
    the same loops run in Python, output and every gradient."""
    from rnnsearch.models import scan_loops  # noqa: PLC0415

    model = tiny_model(name, random=True, scan_backward=True).to(cuda).train()
    batch = [t.to(cuda) for t in padded_batch(model.vocab_size)[:3]]
    runs = []
    for script in (True, False):
        monkeypatch.setattr(scan_loops, "SCRIPT", script)
        model.zero_grad(set_to_none=True)
        out = model(*batch)
        out.logsumexp(-1).sum().backward()
        runs.append([out.detach()] + [p.grad for p in model.parameters()])
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a, b)
