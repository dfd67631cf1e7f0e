"""The paper's gated unit (App. A.1.1) against a hand-written reference and against nn.GRU."""

from __future__ import annotations

import torch
from torch.testing import assert_close

from rnnsearch.models.gru import PaperGRUCell, run_masked, run_stacked

B, E, H = 4, 5, 6
F64 = torch.float64


def _weights(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    shapes = dict(W_r=(H, E), W_z=(H, E), W=(H, E), U_r=(H, H), U_z=(H, H), U=(H, H))
    w = {k: torch.randn(s, generator=gen, dtype=F64) * 0.5 for k, s in shapes.items()}
    w.update({k: torch.randn(H, generator=gen, dtype=F64) * 0.5 for k in ("b_r", "b_z", "b")})
    return w


def paper_reference(x: torch.Tensor, h: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
    """App. A.1.1, written out term by term."""
    r = torch.sigmoid(x @ w["W_r"].T + w["b_r"] + h @ w["U_r"].T)
    z = torch.sigmoid(x @ w["W_z"].T + w["b_z"] + h @ w["U_z"].T)
    h_tilde = torch.tanh(x @ w["W"].T + w["b"] + (r * h) @ w["U"].T)  # reset *before* U
    return (1 - z) * h + z * h_tilde  # z weights the *new* state


def _paper_cell(w: dict[str, torch.Tensor]) -> tuple[PaperGRUCell, torch.Tensor, torch.Tensor]:
    cell = PaperGRUCell(H).to(F64)
    with torch.no_grad():
        cell.U_gates.weight.copy_(torch.cat([w["U_r"], w["U_z"]]))
        cell.U.weight.copy_(w["U"])
    W_in = torch.cat([w["W_r"], w["W_z"], w["W"]])  # (3H, E), the callers' input projection
    b_in = torch.cat([w["b_r"], w["b_z"], w["b"]])  # (3H,)
    return cell, W_in, b_in


def _torch_cell(w: dict[str, torch.Tensor], flip_z: bool = False) -> torch.nn.GRUCell:
    """nn.GRUCell with the same matrices; `flip_z` negates the update gate (z -> 1 - z)."""
    sign = -1.0 if flip_z else 1.0
    cell = torch.nn.GRUCell(E, H).to(F64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.cat([w["W_r"], sign * w["W_z"], w["W"]]))
        cell.bias_ih.copy_(torch.cat([w["b_r"], sign * w["b_z"], w["b"]]))
        cell.weight_hh.copy_(torch.cat([w["U_r"], sign * w["U_z"], w["U"]]))
        cell.bias_hh.zero_()
    return cell


def test_paper_cell_matches_handwritten_equations() -> None:
    w = _weights()
    cell, W_in, b_in = _paper_cell(w)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(B, E, generator=gen, dtype=F64)
    h = torch.randn(B, H, generator=gen, dtype=F64)
    assert_close(cell(x @ W_in.T + b_in, h), paper_reference(x, h, w), rtol=0, atol=1e-12)


def test_paper_cell_differs_from_torch_gru_with_same_weights() -> None:
    w = _weights()
    cell, W_in, b_in = _paper_cell(w)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(B, E, generator=gen, dtype=F64)
    h = torch.randn(B, H, generator=gen, dtype=F64)
    ours = cell(x @ W_in.T + b_in, h)
    # Same matrices, PyTorch's variant: z weights the old state and r acts after U.
    assert (ours - _torch_cell(w)(x, h)).abs().max() > 1e-2
    # Aligning the z convention is not enough: the reset placement alone still differs ...
    assert (ours - _torch_cell(w, flip_z=True)(x, h)).abs().max() > 1e-2
    # ... and it is the only difference: with r == 1 the two variants coincide.
    w_open = dict(w, b_r=torch.full((H,), 60.0, dtype=F64))
    cell, W_in, b_in = _paper_cell(w_open)
    assert_close(cell(x @ W_in.T + b_in, h), _torch_cell(w_open, flip_z=True)(x, h))


def test_run_masked_carries_state_through_padding() -> None:
    w = _weights()
    cell, W_in, b_in = _paper_cell(w)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, E, generator=gen, dtype=F64)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    fwd = run_masked(cell, x @ W_in.T + b_in, mask)
    bwd = run_masked(cell, x @ W_in.T + b_in, mask, reverse=True)
    h = torch.zeros(H, dtype=F64)
    for j in range(2):  # the short sentence, step by step from a zero state
        h = paper_reference(x[1, j], h, w)
        assert_close(fwd[1, j], h)
    h = torch.zeros(H, dtype=F64)
    for j in (1, 0):  # backward: starts at the last *real* word
        h = paper_reference(x[1, j], h, w)
        assert_close(bwd[1, j], h)
    assert (fwd[1, 2:] == 0).all() and (bwd[1, 2:] == 0).all()


def test_run_stacked_equals_per_direction_loops_with_padding() -> None:
    gen = torch.Generator().manual_seed(4)
    cells = [_paper_cell(_weights(seed))[0] for seed in (5, 6)]
    x_f = torch.randn(3, 6, 3 * H, generator=gen, dtype=F64)
    x_b = torch.randn(3, 6, 3 * H, generator=gen, dtype=F64)
    mask = torch.arange(6).unsqueeze(0) < torch.tensor([[6], [4], [1]])  # (3, 6)
    expected = torch.cat(
        [run_masked(cells[0], x_f, mask), run_masked(cells[1], x_b, mask, reverse=True)], -1
    )
    assert_close(run_stacked(cells, [x_f, x_b], mask), expected, rtol=0, atol=1e-12)
    assert_close(run_stacked(cells[:1], [x_f], mask), expected[..., :H], rtol=0, atol=1e-12)
