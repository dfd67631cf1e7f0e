"""The paper's gated recurrent unit and a masked loop that runs it over a sequence.

Paper: Sec. 3.1 footnote / App. A.1.1 (Cho et al. 2014a's gated hidden unit). The reset gate acts
*before* the recurrent product, unlike cuDNN's GRU (`torch.nn.GRU`), which applies it after:

    r  = sigma(W_r x + U_r h)          z = sigma(W_z x + U_z h)
    h~ = tanh(W x + U (r * h))         h' = (1 - z) * h + z * h~      # z weights the *new* state

Not responsible for: input projections of whole sequences (callers batch `W x` over time).
"""

from __future__ import annotations

import torch
from torch import nn


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
        xr, xz, xh = x_proj.chunk(3, dim=-1)  # 3 x (B, H)
        hr, hz = self.U_gates(h).chunk(2, dim=-1)  # 2 x (B, H)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        h_tilde = torch.tanh(xh + self.U(r * h))
        return (1.0 - z) * h + z * h_tilde


def run_masked(
    cell: PaperGRUCell, x_proj: torch.Tensor, mask: torch.Tensor, reverse: bool = False
) -> torch.Tensor:
    """Run `cell` over a padded sequence; a padded position leaves the state unchanged.

    With right padding and `reverse=True`, the backward pass sees the padding first and keeps
    its zero initial state until the first real token, so h<-_1 depends on real tokens only.

    Shapes:
        x_proj: (B, S, 3H); mask: (B, S) bool, True for real tokens
        returns: (B, S, H) states (zero at padded positions)
    """
    B, S, _ = x_proj.shape
    h = x_proj.new_zeros(B, cell.hidden_dim)  # (B, H)
    keep = mask.unsqueeze(-1).to(x_proj.dtype)  # (B, S, 1)
    outputs: list[torch.Tensor] = [h] * S
    steps = range(S - 1, -1, -1) if reverse else range(S)
    for j in steps:
        h_new = cell(x_proj[:, j], h)
        h = keep[:, j] * h_new + (1.0 - keep[:, j]) * h
        outputs[j] = h * keep[:, j]
    return torch.stack(outputs, dim=1)  # (B, S, H)
