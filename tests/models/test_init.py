"""App. B.1 initialisation: orthogonal recurrent blocks, N(0, 0.01^2), N(0, 0.001^2), zeros."""

from __future__ import annotations

import pytest
import torch

from rnnsearch.config import ModelConfig
from rnnsearch.models import build_model

SIZES = dict(emb_dim=48, hidden_dim=64, attn_dim=80, maxout_dim=32)  # ~10^4 draws per matrix


def _build(name: str, cell: str) -> torch.nn.Module:
    attention = name == "rnnsearch"
    cfg = ModelConfig(attention=attention, bidirectional=attention, encoder_cell=cell, **SIZES)
    torch.manual_seed(0)
    return build_model(cfg, 700, 600)


def _kind(name: str) -> str:
    """Which App. B.1 rule a parameter falls under, from its name."""
    if name.endswith(("U_gates.weight", "U.weight")) or ".weight_hh_l0" in name:
        return "orthogonal"
    if name.endswith(("query_proj.weight", "key_proj.weight")):
        return "attention"  # W_a, U_a
    if name.endswith("energy_proj.weight"):
        return "zero"  # v_a
    if name.endswith("bias") or ".bias_" in name:
        return "zero"
    return "normal"


# (model, encoder cell, number of recurrent weight tensors: encoder directions + decoder)
CASES = [
    ("rnnsearch", "paper", 2 * 2 + 2),
    ("rnnencdec", "paper", 2 + 2),
    ("rnnsearch", "cudnn", 2 + 2),
]


@pytest.mark.parametrize(("name", "cell", "n_recurrent"), CASES)
def test_init_matches_app_b1(name: str, cell: str, n_recurrent: int) -> None:
    model = _build(name, cell)
    H = SIZES["hidden_dim"]
    kinds = {n: _kind(n) for n, _ in model.named_parameters()}
    assert sum(k == "orthogonal" for k in kinds.values()) == n_recurrent
    for n, p in model.named_parameters():
        kind = kinds[n]
        if kind == "zero":
            assert (p == 0).all(), n
        elif kind == "orthogonal":
            assert p.size(1) == H and p.size(0) % H == 0, n
            for block in p.split(H, dim=0):  # U_r, U_z, U (each H x H) separately
                eye = torch.eye(H)
                assert torch.allclose(block.T @ block, eye, atol=1e-5), n
                assert torch.allclose(block @ block.T, eye, atol=1e-5), n
        else:
            std = 0.001 if kind == "attention" else 0.01
            assert abs(p.mean().item()) < 0.05 * std, n
            assert p.std().item() == pytest.approx(std, rel=0.05), n


def test_init_gives_uniform_attention_at_start() -> None:
    """With v_a = 0 every energy is 0, so alpha starts uniform over the real words."""
    model = _build("rnnsearch", "paper")
    src_ids = torch.randint(4, 700, (2, 6))
    src_mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    enc = model.encode(src_ids, src_mask)
    out = model.step(torch.tensor([1, 1]), model.init_state(enc), enc)
    assert torch.allclose(out.alpha[0], torch.full((6,), 1 / 6))
    assert torch.allclose(out.alpha[1, :4], torch.full((4,), 1 / 4))
