"""Additive alignment model: e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j), alpha = softmax_j(e).

Paper: Sec. 3.1, Eq. (5)-(6), App. A.1.2. Stateless: the keys U_a h_j do not depend on i, so
`Seq2Seq.encode` computes them once per sentence and carries them in `EncoderOutput.keys`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AdditiveAttention(nn.Module):
    """Soft alignment between the previous decoder state and every annotation.

    `logistic=True` (speed switch, equal up to rounding) computes the energies through the
    logistic function: tanh(a) = 2 sigma(2a) - 1, so v_a^T tanh(a_j) = (2 v_a)^T sigma(2 a_j) -
    sum(v_a). The constant is the same for every j and the softmax over j ignores it, so alpha
    and c_i are unchanged; sigma costs about a third of tanh on CPU, and this (B, S, A) block is
    the largest elementwise product of a decoding step.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, logistic: bool = False,
                 bias: bool = True) -> None:
        super().__init__()
        self.logistic = logistic
        self.query_proj = nn.Linear(query_dim, attn_dim, bias=False)  # W_a
        # U_a (+ alignment bias; GroundHog: none, `bias=False`)
        self.key_proj = nn.Linear(key_dim, attn_dim, bias=bias)
        self.energy_proj = nn.Linear(attn_dim, 1, bias=False)  # v_a

    def precompute_keys(self, annotations: torch.Tensor) -> torch.Tensor:
        """U_a h_j for every j, once per sentence (App. A.1.2).

        Shapes: annotations (B, S, 2H) -> (B, S, A)
        """
        return self.key_proj(annotations)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        annotations: torch.Tensor,
        src_mask: torch.Tensor,
        keys2: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Alignment weights and context vector for one decoder step.

        Shapes:
            query: (B, H) = s_{i-1}; keys: (B, S, A); annotations: (B, S, 2H); src_mask: (B, S)
            keys2: (B, S, A) = 2 U_a h_j for the logistic energies, precomputed once per
                sentence (`EncoderOutput.keys2`); doubled here when None
            returns: context c_i (B, 2H), attn_weights alpha_i (B, S) (exactly 0 on padding)
            With grouped beams (EncoderOutput.beam = K), query has B * K rows and the
            source tensors B: each source row serves K consecutive query rows.
        """
        (B, S, A), C = keys.shape, annotations.size(-1)
        K = query.size(0) // B  # 1, or the beam size K with grouped beams
        q = self.query_proj(query).view(B, K, 1, A)
        if self.logistic:  # energies up to a constant in j (see the class docstring)
            keys2 = 2.0 * keys if keys2 is None else keys2  # (B, S, A)
            # 2 W_a s + 2 U_a h_j is exactly 2 (W_a s + U_a h_j): doubling is exact
            a2 = (2.0 * q) + keys2.unsqueeze(1)  # (B, K, S, A)
            energies = F.linear(a2.sigmoid_(), 2.0 * self.energy_proj.weight)
        else:
            a = q + keys.unsqueeze(1)  # (B, K, S, A): W_a s_{i-1} + U_a h_j
            energies = self.energy_proj(torch.tanh(a))
        energies = energies.squeeze(-1).masked_fill(~src_mask.unsqueeze(1), float("-inf"))
        alpha = torch.softmax(energies, dim=-1)  # (B, K, S)
        context = torch.bmm(alpha, annotations)  # (B, K, C)
        return context.view(B * K, C), alpha.view(B * K, S)
