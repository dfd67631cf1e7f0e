"""Conditional gated decoder: s_i = f(s_{i-1}, y_{i-1}, c_i), with a maxout deep output.

Paper: Sec. 3.1 Eq. (4), App. A.2.2:
    s_i  = (1 - z_i) * s_{i-1} + z_i * s~_i
    s~_i = tanh(W E y_{i-1} + U (r_i * s_{i-1}) + C c_i)
    z_i  = sigma(W_z E y_{i-1} + U_z s_{i-1} + C_z c_i);  r_i likewise
`AttentionDecoder` (RNNsearch) computes c_i from s_{i-1} by soft alignment; `ContextDecoder`
(RNNencdec) uses the same fixed summary c at every step. Both share everything else.

Which state the deep output reads (`readout_state`; the paper is inconsistent):
    groundhog: p(y_i) = g(s_{i-1}, E y_{i-1}, c_i(s_{i-1})), s_i = f(s_{i-1}, E y_i, c_i): the
               recurrence consumes the word just emitted; the first word is predicted from s_0
               with a zero previous-word term (GroundHog encdec.py / sample.py; Table 1's code)
    current:   g(s_i, E y_{i-1}, c_i) with s_i = f(s_{i-1}, E y_{i-1}, c_i)  (Eq. 4)
    previous:  g(s_{i-1}, E y_{i-1}, c_i) with the same s_i  (App. A.2.2's U_o s_{i-1})
`Seq2Seq` (seq2seq.py) orders the per-step calls for each reading.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnsearch.models.attention import AdditiveAttention
from rnnsearch.models.encoder import last_state
from rnnsearch.models.encoder_output import EncoderOutput
from rnnsearch.models.gru import PaperGRUCell, gated_input_projection
from rnnsearch.models.readout import MaxoutReadout
from rnnsearch.models.scan import attention_gru_scan, gru_scan


class ConditionalGRUDecoder(nn.Module):
    """The parts both decoders share: embedding E, gated cell, W_s, deep output."""

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        hidden_dim: int,
        context_dim: int,
        maxout_dim: int,
        maxout_pool: int,
        readout_state: str,
        gate_bias: bool = True,
        output_rank: int | None = None,
    ) -> None:
        super().__init__()
        # groundhog: emit y_i from s_{i-1}, then update the state with E y_i
        self.readout_state = readout_state
        self.embedding = nn.Embedding(vocab_size, emb_dim)  # E
        # [W_r; W_z; W] E y_{i-1} + b (b on every gate, or on h~ only: GroundHog)
        self.input_proj = gated_input_projection(emb_dim, hidden_dim, gate_bias)
        self.context_proj = nn.Linear(context_dim, 3 * hidden_dim, bias=False)  # [C_r; C_z; C]
        self.cell = PaperGRUCell(hidden_dim)  # U_r, U_z, U
        self.init_proj = nn.Linear(hidden_dim, hidden_dim)  # W_s: reads h<-_1 or c, both (B, H)
        self.readout = MaxoutReadout(
            hidden_dim, emb_dim, context_dim, maxout_dim, maxout_pool, vocab_size, output_rank
        )

    # -- hooks the two variants fill in -------------------------------------------------------
    def summarize(self, annotations: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """The vector W_s reads to build s_0. Shapes: (B, S, C), (B, S) -> (B, H)."""
        raise NotImplementedError

    def context(
        self, query: torch.Tensor, enc: EncoderOutput
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """c_i and alpha_i (or None) for one step, from s_{i-1}."""
        raise NotImplementedError

    def scan(
        self, x_in: torch.Tensor, s0: torch.Tensor, enc: EncoderOutput, final_context: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced recurrence in one autograd node (scan.py): c_k from s_k, then s_{k+1}.

        Equal to looping `context` and `recur` (tests/models/test_scan.py); with
        `final_context`, one more c_N from s_N.

        Shapes: x_in (B, N, 3H); s0 (B, H) -> states (B, N + 1, H), contexts (B, K, C)
        """
        raise NotImplementedError

    # -- shared equations ---------------------------------------------------------------------
    def init_hidden(self, summary: torch.Tensor) -> torch.Tensor:
        """s_0 = tanh(W_s summary) (App. A.2.2). Shapes: (B, C_init) -> (B, H)."""
        # The state keeps the weights' dtype: fp32 under bf16 autocast, so the recurrence
        # (1 - z) * s + z * s~ accumulates in fp32 while the products run in bf16.
        return torch.tanh(self.init_proj(summary)).to(self.init_proj.weight.dtype)

    def recur(
        self, x_in: torch.Tensor, s_prev: torch.Tensor, context: torch.Tensor
    ) -> torch.Tensor:
        """s_i from the input projection of E y_{i-1}, s_{i-1} and c_i.

        Shapes: x_in (B, 3H); s_prev (B, H); context (B, C) -> (B, H)
        """
        return self.cell(x_in + self.context_proj(context), s_prev)

    def output_state(self, s_prev: torch.Tensor, s_new: torch.Tensor) -> torch.Tensor:
        """The state the deep output reads: s_i (Eq. 4) or s_{i-1} (App. A.2.2).

        Not used by `groundhog`, whose step reads the state before its (deferred) update.
        """
        return s_new if self.readout_state == "current" else s_prev


class AttentionDecoder(ConditionalGRUDecoder):
    """RNNsearch decoder: c_i = sum_j alpha_ij h_j with alpha from the alignment model."""

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        hidden_dim: int,
        attn_dim: int,
        maxout_dim: int,
        maxout_pool: int,
        readout_state: str,
        logistic_attention: bool = False,
        attention_bias: bool = True,
        gate_bias: bool = True,
        output_rank: int | None = None,
    ) -> None:
        context_dim = 2 * hidden_dim  # annotations h_j = [h->_j ; h<-_j]
        super().__init__(
            vocab_size, emb_dim, hidden_dim, context_dim, maxout_dim, maxout_pool, readout_state,
            gate_bias, output_rank,
        )
        self.attention = AdditiveAttention(
            hidden_dim, context_dim, attn_dim, logistic_attention, attention_bias
        )

    def summarize(self, annotations: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """h<-_1, the backward annotation of the first word (App. A.2.2: s_0 = tanh(W_s h<-_1)).

        Shapes: annotations (B, S, 2H) -> (B, H)
        """
        hidden = annotations.size(-1) // 2
        return annotations[:, 0, hidden:]  # (B, H)

    def context(self, query, enc):  # noqa: D102
        return self.attention(query, enc.keys, enc.annotations, enc.src_mask, enc.keys2)

    def scan(self, x_in, s0, enc, final_context):  # noqa: D102
        att, cell = self.attention, self.cell
        states, contexts = attention_gru_scan(
            x_in.transpose(0, 1), s0, enc.keys, enc.annotations, enc.src_mask,
            self.context_proj.weight.t(), att.query_proj.weight.t(), att.energy_proj.weight.t(),
            cell.U_gates.weight.t(), cell.U.weight.t(), final_context,
        )  # (N + 1, B, H), (K, B, C)
        return states.transpose(0, 1), contexts.transpose(0, 1)


class ContextDecoder(ConditionalGRUDecoder):
    """RNNencdec decoder: one fixed context c feeds every step and the deep output (Sec. 2.1).

    `encdec_context="last_state"`: c = h->_Tx, the raw last forward state (App. A.2.2: "if we
    fix c_i to h->_Tx"; GroundHog), with s_0 = tanh(W_s c + b). `encdec_context="tanh_layer"`:
    c = tanh(V h_Tx), an extra layer after Cho et al. (2014a) (ours; not the paper's RNNencdec).
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        hidden_dim: int,
        maxout_dim: int,
        maxout_pool: int,
        readout_state: str,
        encdec_context: str = "last_state",
        gate_bias: bool = True,
        output_rank: int | None = None,
    ) -> None:
        super().__init__(
            vocab_size, emb_dim, hidden_dim, hidden_dim, maxout_dim, maxout_pool, readout_state,
            gate_bias, output_rank,
        )
        self.encdec_context = encdec_context
        if encdec_context == "tanh_layer":
            self.summary_proj = nn.Linear(hidden_dim, hidden_dim)  # V: c = tanh(V h_Tx)

    def summarize(self, annotations: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """c from the encoder's last real state h->_Tx. Shapes: (B, S, H) -> (B, H)."""
        h_last = last_state(annotations, src_mask)  # (B, H)
        if self.encdec_context == "last_state":
            return h_last
        return torch.tanh(self.summary_proj(h_last))

    def context(self, query, enc):  # noqa: D102
        summary = enc.summary
        if summary.size(0) != query.size(0):  # grouped beams (EncoderOutput.beam)
            summary = summary.repeat_interleave(query.size(0) // summary.size(0), dim=0)
        return summary, None

    def scan(self, x_in, s0, enc, final_context):  # noqa: D102
        B, N, _ = x_in.shape
        summary = enc.summary
        x = (x_in + self.context_proj(summary).unsqueeze(1)).transpose(0, 1)  # (N, B, 3H)
        Ug_T, U_T = self.cell.U_gates.weight.t(), self.cell.U.weight.t()
        steps = gru_scan(x.unsqueeze(1), None, s0.unsqueeze(0), Ug_T[None], U_T[None])
        states = torch.cat([s0.unsqueeze(1), steps.squeeze(1).transpose(0, 1)], dim=1)
        K = N + 1 if final_context else N
        return states, summary.unsqueeze(1).expand(B, K, summary.size(-1))  # (B, K, C)
