"""The paper's gated recurrent unit and the masked loops that run it over a sequence.

Paper: Sec. 3.1 footnote / App. A.1.1 (Cho et al. 2014a's gated hidden unit). The reset gate acts
*before* the recurrent product, unlike cuDNN's GRU (`torch.nn.GRU`), which applies it after:

    r  = sigma(W_r x + U_r h)          z = sigma(W_z x + U_z h)
    h~ = tanh(W x + U (r * h))         h' = (1 - z) * h + z * h~      # z weights the *new* state

Not responsible for: input projections of whole sequences (callers batch `W x` over time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from rnnsearch.models.scan import gru_scan

Update = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def gated_update(
    x_proj: torch.Tensor, h: torch.Tensor, U_gates_T: torch.Tensor, U_T: torch.Tensor
) -> torch.Tensor:
    """One step of the gated unit; any leading dims, so one call can advance both directions.

    Shapes:
        x_proj: (..., B, 3H) as [W_r x; W_z x; W x] (+ biases); h: (..., B, H)
        U_gates_T: (..., H, 2H) = [U_r; U_z]^T; U_T: (..., H, H) = U^T
        returns: (..., B, H)
    """
    xr, xz, xh = x_proj.chunk(3, dim=-1)  # 3 x (..., B, H)
    hr, hz = torch.matmul(h, U_gates_T).chunk(2, dim=-1)  # 2 x (..., B, H)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    h_tilde = torch.tanh(xh + torch.matmul(r * h, U_T))  # reset *before* U
    return (1.0 - z) * h + z * h_tilde


class CandidateBiasProjection(nn.Module):
    """[W_r; W_z; W] x + [0; 0; b]: GroundHog's gated-unit inputs, a bias on h~ only.

    GroundHog (Table 1's code) gives the reset and update gates no bias; the candidate's input
    has one. Same output layout as `nn.Linear(in_dim, 3H)`, so callers need not know which.
    """

    def __init__(self, in_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(3 * hidden_dim, in_dim))  # [W_r; W_z; W]
        self.bias = nn.Parameter(torch.empty(hidden_dim))  # b of h~ only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shapes: x (..., in_dim) -> (..., 3H)."""
        gates = self.bias.new_zeros(2 * self.bias.numel())  # r and z: no bias
        return F.linear(x, self.weight, torch.cat([gates, self.bias]))


def gated_input_projection(in_dim: int, hidden_dim: int, gate_bias: bool = True) -> nn.Module:
    """The input side of a gated unit: biases on every gate (`gate_bias`), or on h~ only."""
    if gate_bias:
        return nn.Linear(in_dim, 3 * hidden_dim)  # [W_r; W_z; W] x + [b_r; b_z; b]
    return CandidateBiasProjection(in_dim, hidden_dim)


class PaperGRUCell(nn.Module):
    """One step of the gated unit, given the input projections already computed.

    The input-side products `[W_r x; W_z x; W x] + b` do not depend on the recurrence, so callers
    compute them for every time step in one matrix product and pass them in as `x_proj`.
    """

    def __init__(self, hidden_dim: int) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.U_gates = nn.Linear(hidden_dim, 2 * hidden_dim, bias=False)  # [U_r; U_z]
        self.U = nn.Linear(hidden_dim, hidden_dim, bias=False)

    def forward(self, x_proj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Advance the state by one step.

        Shapes:
            x_proj: (B, 3H) as [W_r x; W_z x; W x] (+ biases)
            h: (B, H) previous state
            returns: (B, H) new state
        """
        return gated_update(x_proj, h, self.U_gates.weight.t(), self.U.weight.t())


def run_masked(
    cell: PaperGRUCell, x_proj: torch.Tensor, mask: torch.Tensor, reverse: bool = False
) -> torch.Tensor:
    """Run `cell` over a padded sequence; a padded position leaves the state unchanged.

    With right padding and `reverse=True`, the backward pass sees the padding first and keeps
    its zero initial state until the first real token, so h<-_1 depends on real tokens only.
    This is the reference loop; `run_stacked` is the fast path proven equal to it.

    Shapes:
        x_proj: (B, S, 3H); mask: (B, S) bool, True for real tokens
        returns: (B, S, H) states (zero at padded positions)
    """
    B, S, _ = x_proj.shape
    # The state keeps the weights' dtype: fp32 under bf16 autocast (a bf16 state drifts over S).
    h = x_proj.new_zeros(B, cell.hidden_dim, dtype=cell.U.weight.dtype)  # (B, H)
    # unbind, not x_proj[:, j]: the backward of S slices would zero-fill S full (B, S, 3H) buffers.
    xs = x_proj.unbind(1)  # S x (B, 3H)
    keep = mask.unsqueeze(-1).unbind(1)  # S x (B, 1) bool
    outputs: list[torch.Tensor] = [h] * S
    steps = range(S - 1, -1, -1) if reverse else range(S)
    for j in steps:
        h = torch.where(keep[j], cell(xs[j], h), h)  # padding carries the state unchanged
        outputs[j] = h
    return torch.stack(outputs, dim=1).masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, S, H)


def run_stacked(
    cells: Sequence[PaperGRUCell],
    x_projs: Sequence[torch.Tensor],
    mask: torch.Tensor,
    update: Update = gated_update,
    scan: bool = False,
) -> torch.Tensor:
    """Every direction in one loop of batched (D, B, H) products: S steps instead of D * S.

    Direction 0 runs forward; direction 1 (if given) runs backward. Step j advances the forward
    RNN at position j and the backward RNN at position S-1-j: the backward inputs are flipped
    once, so with right padding the backward RNN meets the padding first and carries its zero
    state through it, exactly as `run_masked(reverse=True)` does. Fast path proven equal to
    `run_masked` by tests/models; `update` may be a compiled `gated_update`. `scan` runs the
    loop inside one autograd node with a hand-written backward (scan.GRUScan; `update` unused).

    Shapes:
        x_projs: D x (B, S, 3H) input projections; mask: (B, S) bool
        returns: (B, S, D * H) = [h->_j ; h<-_j], zero at padded positions
    """
    B, S, _ = x_projs[0].shape
    U_gates_T = torch.stack([c.U_gates.weight.t() for c in cells])  # (D, H, 2H)
    U_T = torch.stack([c.U.weight.t() for c in cells])  # (D, H, H)
    flips = [False, True][: len(cells)]
    x = torch.stack([xp.flip(1) if f else xp for xp, f in zip(x_projs, flips, strict=True)])
    keep = torch.stack([mask.flip(1) if f else mask for f in flips]).unsqueeze(-1)  # (D, B, S, 1)
    h = x.new_zeros(len(cells), B, cells[0].hidden_dim, dtype=U_T.dtype)  # (D, B, H)
    if scan:
        steps = gru_scan(x.permute(2, 0, 1, 3), keep.permute(2, 0, 1, 3), h, U_gates_T, U_T)
        states = steps.permute(1, 2, 0, 3)  # (S, D, B, H) -> (D, B, S, H)
    else:
        outputs = []
        for x_j, keep_j in zip(x.unbind(2), keep.unbind(2), strict=True):  # (D, B, 3H), (D, B, 1)
            h = torch.where(keep_j, update(x_j, h, U_gates_T, U_T), h)  # (D, B, H)
            outputs.append(h)
        states = torch.stack(outputs, dim=2)  # (D, B, S, H)
    out = torch.cat([st.flip(1) if f else st for st, f in zip(states, flips, strict=True)], -1)
    return out.masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, S, D * H)
