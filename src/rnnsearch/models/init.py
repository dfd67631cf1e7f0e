"""The paper's initialisation (App. B.1).

Recurrent matrices (U, U_z, U_r of every gated unit) are random orthogonal; W_a and U_a are drawn
from N(0, 0.001^2); v_a is zero; every other weight matrix from N(0, 0.01^2); biases are zero.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnsearch.models.attention import AdditiveAttention
from rnnsearch.models.gru import PaperGRUCell


def _orthogonal_blocks(weight: torch.Tensor, block: int) -> None:
    """Fill each (block x block) square of a stacked recurrent matrix with an orthogonal one."""
    with torch.no_grad():
        for start in range(0, weight.size(0), block):
            nn.init.orthogonal_(weight[start : start + block])


def init_paper(model: nn.Module, std: float, attn_std: float, orthogonal: bool) -> None:
    """Initialise `model` in place as App. B.1 prescribes."""
    for name, param in model.named_parameters():
        if name.endswith("bias") or ".bias_" in name:
            nn.init.zeros_(param)
        else:
            nn.init.normal_(param, mean=0.0, std=std)
    for module in model.modules():
        if isinstance(module, AdditiveAttention):
            nn.init.normal_(module.query_proj.weight, std=attn_std)  # W_a
            nn.init.normal_(module.key_proj.weight, std=attn_std)  # U_a
            nn.init.zeros_(module.energy_proj.weight)  # v_a
        if not orthogonal:
            continue
        if isinstance(module, PaperGRUCell):
            _orthogonal_blocks(module.U_gates.weight, module.hidden_dim)  # U_r, U_z
            _orthogonal_blocks(module.U.weight, module.hidden_dim)
        elif isinstance(module, nn.GRU):
            for pname, param in module.named_parameters():
                if pname.startswith("weight_hh"):
                    _orthogonal_blocks(param, module.hidden_size)
