"""CUDA computes what the CPU computes: a training update, beam search, the CUDA-graph update."""

from __future__ import annotations

import copy

import pytest
import torch
from _common import cuda_graphed, make_update, paper_optimizer

from rnnsearch.decoding.search import beam_search

pytestmark = pytest.mark.gpu


def _to(batch: tuple[torch.Tensor, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
    return tuple(t.to(device) for t in batch)


def _assert_params_close(a: torch.nn.Module, b: torch.nn.Module, rtol: float, atol: float) -> None:
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p.detach().cpu(), q.detach().cpu(), rtol=rtol, atol=atol,
                                   msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
@pytest.mark.parametrize(("dtype", "rtol", "atol"), [(torch.float64, 1e-9, 1e-12),
                                                     (torch.float32, 1e-4, 1e-6)])
def test_training_updates_on_cuda_equal_cpu(cuda, tiny_model, padded_batch, name, dtype, rtol,
                                            atol) -> None:
    cpu_model = tiny_model(name).to(dtype)
    gpu_model = copy.deepcopy(cpu_model).to(cuda)
    batch = padded_batch(cpu_model.vocab_size)
    cpu_update = make_update(cpu_model, paper_optimizer(cpu_model), batch)
    gpu_update = make_update(gpu_model, paper_optimizer(gpu_model), _to(batch, cuda))
    for _ in range(3):
        cpu_loss, gpu_loss = cpu_update(), gpu_update()
        torch.testing.assert_close(gpu_loss.cpu(), cpu_loss, rtol=rtol, atol=atol)
    _assert_params_close(cpu_model, gpu_model, rtol, atol)


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_beam_search_on_cuda_equals_cpu(cuda, tiny_model, padded_batch, name) -> None:
    cpu_model = tiny_model(name, random=True).double().eval()
    gpu_model = copy.deepcopy(cpu_model).to(cuda)
    src, mask, _, _ = padded_batch(cpu_model.vocab_size)
    caps = mask.sum(dim=1) + 3  # (B,)
    want = beam_search(cpu_model, src, mask, 5, caps)
    got = beam_search(gpu_model, src.to(cuda), mask.to(cuda), 5, caps.to(cuda))
    assert got.ids == want.ids and got.ended == want.ended
    torch.testing.assert_close(torch.tensor(got.scores), torch.tensor(want.scores),
                               rtol=1e-9, atol=1e-12)
    if cpu_model.has_attention:
        for a, b in zip(got.attention, want.attention, strict=True):
            torch.testing.assert_close(torch.from_numpy(a), torch.from_numpy(b))
        # (T_hyp, S_real) rows far from uniform, or the comparison above could not fail
        assert max(float(b.std(axis=-1).max()) for b in want.attention) > 0.05


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_cuda_graph_update_equals_eager(cuda, tiny_model, padded_batch, name) -> None:
    eager = tiny_model(name).to(cuda)
    graphed = copy.deepcopy(eager)
    batch = _to(padded_batch(eager.vocab_size), cuda)
    eager_update = make_update(eager, paper_optimizer(eager), batch)
    replay = cuda_graphed(
        make_update(graphed, paper_optimizer(graphed, capturable=True), batch,
                    cache_enabled=False),
        warmup=3,
    )
    for _ in range(3):  # the graph's warm-up updates
        eager_update()
    for _ in range(2):
        torch.testing.assert_close(replay(), eager_update(), rtol=1e-5, atol=1e-6)
    _assert_params_close(eager, graphed, rtol=1e-4, atol=1e-6)
