"""Deep output with a maxout layer (App. A.2.2): t_i = max(t~_{2j-1}, t~_{2j}), logits W_o t_i."""

from __future__ import annotations

import torch
from torch.testing import assert_close

from rnnsearch.models.readout import MaxoutReadout, maxout


def test_maxout_picks_pairwise_maxima() -> None:
    x = torch.tensor([[1.0, 5.0, -2.0, -3.0, 0.5, 0.25]])
    assert torch.equal(maxout(x, 2), torch.tensor([[5.0, -2.0, 0.5]]))  # pairs (1,2), (3,4), (5,6)


def test_maxout_pairs_neighbours_not_halves() -> None:
    x = torch.randn(3, 4, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(maxout(x, 2), torch.maximum(x[..., 0::2], x[..., 1::2]))
    assert not torch.equal(maxout(x, 2), torch.maximum(x[..., :5], x[..., 5:]))


def test_readout_matches_app_a22_written_out() -> None:
    torch.manual_seed(0)
    H, E, C, M, V = 6, 4, 12, 5, 9
    readout = MaxoutReadout(H, E, C, M, 2, V).double()
    for p in readout.parameters():
        torch.nn.init.normal_(p)
    s, e, c = (torch.randn(3, d, dtype=torch.float64) for d in (H, E, C))
    t_tilde = s @ readout.U_o.weight.T + readout.U_o.bias + e @ readout.V_o.weight.T
    t_tilde = t_tilde + c @ readout.C_o.weight.T  # (3, 2M)
    t = torch.stack([torch.max(t_tilde[:, 2 * j], t_tilde[:, 2 * j + 1]) for j in range(M)], 1)
    logits = t @ readout.W_o.weight.T + readout.W_o.bias  # (3, V)
    assert_close(readout(s, e, c), logits, rtol=0, atol=1e-12)
    # Leading (B, T) dims work the same as (B,): the fused path relies on it.
    stacked = readout(s.unsqueeze(1), e.unsqueeze(1), c.unsqueeze(1))
    assert_close(stacked[:, 0], logits, rtol=0, atol=1e-12)
