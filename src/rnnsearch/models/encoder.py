"""Encoder: source words -> annotations h_j (RNNsearch) or a fixed summary c (RNNencdec).

Paper: Sec. 3.2 and App. A.2.1 (bidirectional RNN, h_j = [h->_j ; h<-_j]); Sec. 2.1 and
App. A.2.2 for the RNNencdec summary c = h->_Tx (built by decoder.ContextDecoder).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnsearch.models.compiled import compiled
from rnnsearch.models.gru import (
    PaperGRUCell,
    gated_input_projection,
    gated_update,
    run_masked,
    run_stacked,
)


class Encoder(nn.Module):
    """A (bi)directional gated RNN over embedded source words.

    `cell="paper"` runs the paper's gated unit step by step; `cell="cudnn"` uses `torch.nn.GRU`
    (reset gate after the recurrent product: a different, faster variant; see benchmarks/README.md).
    Paper-cell speed switches: `fused_encoder` advances both directions in one batched loop
    (`gru.run_stacked`, equal to the per-direction reference loop); `compile` additionally
    runs its per-step update through `torch.compile`; `scan_backward` (with `fused_encoder`)
    runs the whole loop as one autograd node with a hand-written backward (scan.py; not under
    autocast).
    `gate_bias=False` (GroundHog) leaves the reset and update gates without a bias.
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        hidden_dim: int,
        bidirectional: bool,
        cell: str,
        fused_encoder: bool = True,
        compile_recurrence: bool = False,
        scan_backward: bool = False,
        gate_bias: bool = True,
    ) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.bidirectional = bidirectional
        self.cell_kind = cell
        self.fused_encoder = fused_encoder
        self.compile_recurrence = compile_recurrence  # model.compile (nn.Module.compile is taken)
        self.scan_backward = scan_backward
        self.embedding = nn.Embedding(vocab_size, emb_dim)  # E_x
        n_dir = 2 if bidirectional else 1
        if cell == "paper":
            # One input projection per direction: [W_r; W_z; W] E x_j, batched over all j.
            self.input_proj = nn.ModuleList(
                gated_input_projection(emb_dim, hidden_dim, gate_bias) for _ in range(n_dir)
            )
            self.cells = nn.ModuleList(PaperGRUCell(hidden_dim) for _ in range(n_dir))
        else:
            self.rnn = nn.GRU(emb_dim, hidden_dim, batch_first=True, bidirectional=bidirectional)

    @property
    def out_dim(self) -> int:
        """Size of one annotation h_j (2H bidirectional, H otherwise)."""
        return self.hidden_dim * (2 if self.bidirectional else 1)

    def forward(self, src_ids: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """Annotate every source position.

        Shapes:
            src_ids: (B, S); src_mask: (B, S) bool
            returns: (B, S, 2H) if bidirectional else (B, S, H), zero on padding
        """
        self._check_shapes(src_ids, src_mask)
        x = self.embedding(src_ids)  # (B, S, E)
        if self.cell_kind == "cudnn":
            return self._run_cudnn(x, src_mask)
        x_projs = [proj(x) for proj in self.input_proj]  # D x (B, S, 3H), batched over all j
        if self.fused_encoder:
            update = compiled(gated_update) if self.compile_recurrence else gated_update
            scan = self.scan_backward and not torch.is_autocast_enabled(x.device.type)
            return run_stacked(self.cells, x_projs, src_mask, update, scan)  # (B, S, D * H)
        forward = run_masked(self.cells[0], x_projs[0], src_mask)  # (B, S, H)
        if not self.bidirectional:
            return forward
        backward = run_masked(self.cells[1], x_projs[1], src_mask, reverse=True)
        return torch.cat([forward, backward], dim=-1)  # (B, S, 2H)

    def _run_cudnn(self, x: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        lengths = src_mask.sum(dim=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return out  # (B, S, n_dir * H)

    @staticmethod
    def _check_shapes(src_ids: torch.Tensor, src_mask: torch.Tensor) -> None:
        assert src_ids.dim() == 2, f"src_ids must be (B, S), got {tuple(src_ids.shape)}"
        assert src_mask.shape == src_ids.shape, "src_mask must match src_ids"
        assert src_mask.dtype == torch.bool, "src_mask must be bool (True = real token)"
        # Checked on the device (reading the mask on the host would stall a GPU every update);
        # skipped while a CUDA graph is captured (its eager warm-up calls still check it).
        if src_mask.is_cuda and torch.cuda.is_current_stream_capturing():
            return
        torch._assert_async(src_mask[:, 0].all(), "every sentence needs at least one real token")


def last_state(states: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
    """The state at each sentence's last real token: h_Tx.

    Shapes:
        states: (B, S, H); src_mask: (B, S) -> returns (B, H)
    """
    last = src_mask.sum(dim=1) - 1  # (B,)
    idx = last.view(-1, 1, 1).expand(-1, 1, states.size(-1))  # (B, 1, H)
    return states.gather(1, idx).squeeze(1)  # (B, H)
