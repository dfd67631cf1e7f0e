"""Deep output with one maxout hidden layer (Pascanu et al. 2014), then the softmax layer.

Paper: App. A.2.2: t~_i = U_o s + V_o E y_{i-1} + C_o c_i,
t_i = [max(t~_{i,2j-1}, t~_{i,2j})]_j (l = 500 units), p(y_i | ...) ∝ exp(y_i^T W_o t_i).
GroundHog factorises W_o (V x l) as a product through 620 units (`output_rank`).
"""

from __future__ import annotations

import torch
from torch import nn


def maxout(x: torch.Tensor, pool: int) -> torch.Tensor:
    """Max over consecutive groups of `pool` units (pairs, for the paper's pool of 2).

    Shapes: x (..., pool * M) -> (..., M)
    """
    *lead, width = x.shape
    return x.view(*lead, width // pool, pool).max(dim=-1).values  # (..., M)


class MaxoutReadout(nn.Module):
    """t_i from the decoder state, previous word embedding and context; logits from t_i."""

    def __init__(
        self,
        hidden_dim: int,
        emb_dim: int,
        context_dim: int,
        maxout_dim: int,
        pool: int,
        vocab_size: int,
        output_rank: int | None = None,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.U_o = nn.Linear(hidden_dim, pool * maxout_dim, bias=True)
        self.V_o = nn.Linear(emb_dim, pool * maxout_dim, bias=False)
        self.C_o = nn.Linear(context_dim, pool * maxout_dim, bias=False)
        # W_o = W_o2 W_o1 through `output_rank` units (GroundHog: 500 x 620 . 620 x V), or full
        self.W_o_low = (None if output_rank is None
                        else nn.Linear(maxout_dim, output_rank, bias=False))
        self.W_o = nn.Linear(output_rank or maxout_dim, vocab_size, bias=True)

    def forward(
        self, state: torch.Tensor, prev_emb: torch.Tensor, context: torch.Tensor
    ) -> torch.Tensor:
        """Unnormalised scores over the target shortlist; any leading dims (B or B, T) work.

        Shapes:
            state: (..., H); prev_emb: (..., E); context: (..., C)
            returns: logits (..., V)
        """
        return self.W_o(self.features(state, prev_emb, context))  # (..., V)

    def features(
        self, state: torch.Tensor, prev_emb: torch.Tensor, context: torch.Tensor
    ) -> torch.Tensor:
        """What W_o multiplies: t_i, or W_o1 t_i with the factorised output layer.

        Shapes: as `forward`; returns (..., M), or (..., R) with `output_rank`
        """
        t_tilde = self.U_o(state) + self.V_o(prev_emb) + self.C_o(context)  # (..., 2M)
        t = maxout(t_tilde, self.pool)  # (..., M)
        if self.W_o_low is not None:
            t = self.W_o_low(t)  # (..., R): the factorised output layer's first factor
        return t
