"""Seq2Seq: the encode / init_state / step protocol that training and search talk to.

Paper: Sec. 3 (RNNsearch) and Sec. 2.1 (RNNencdec). `forward` is the teacher-forced loop over
the same equations as `step`; its fused path batches every time-independent product
(the input projections of E y_{i-1} and the whole deep output) over T, and a test proves both
paths equal. The step itself, and the state it carries, are in decoder_step.py. With
`compile_recurrence`, the per-step attention + gated update (`recurrence_step`) of `forward`'s
loops, and the whole of `step` (`decoder_step`), run through `torch.compile` (see compiled.py).
Search never looks past this protocol (see decoding/search.py).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rnnsearch.models.compiled import compiled
from rnnsearch.models.decoder import ConditionalGRUDecoder
from rnnsearch.models.decoder_step import (
    DecoderState,
    Recurrence,
    StepOutput,
    decoder_step,
    groundhog_recurrence_step,
    recurrence_step,
)
from rnnsearch.models.encoder import Encoder
from rnnsearch.models.encoder_output import EncoderOutput
from rnnsearch.models.fused_loss import linear_cross_entropy_sum


class Seq2Seq(nn.Module):
    """Encoder + conditional decoder, RNNsearch or RNNencdec depending on the decoder."""

    def __init__(
        self,
        encoder: Encoder,
        decoder: ConditionalGRUDecoder,
        fused_forward: bool = True,
        compile_recurrence: bool = False,
        scan_backward: bool = False,
        grouped_beam_source: bool = False,
        fused_output_loss: bool = False,
        output_loss_chunk: int = 1024,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.fused_forward = fused_forward
        self.compile_recurrence = compile_recurrence  # model.compile (nn.Module.compile is taken)
        self.scan_backward = scan_backward
        self.grouped_beam_source = grouped_beam_source
        self.fused_output_loss = fused_output_loss  # `summed_nll` never builds (B, T, V)
        self.output_loss_chunk = output_loss_chunk  # its rows per chunk

    @property
    def has_attention(self) -> bool:
        """True for RNNsearch (step returns alignment weights)."""
        return hasattr(self.decoder, "attention")

    def encode(self, src_ids: torch.Tensor, src_mask: torch.Tensor) -> EncoderOutput:
        """Annotate the source and precompute U_a h_j (App. A.1.2).

        Shapes: src_ids (B, S); src_mask (B, S) bool
        """
        annotations = self.encoder(src_ids, src_mask)  # (B, S, C)
        attention = getattr(self.decoder, "attention", None)
        keys = None if attention is None else attention.precompute_keys(annotations)  # (B, S, A)
        summary = self.decoder.summarize(annotations, src_mask)  # (B, H)
        return EncoderOutput(
            annotations, keys, src_mask, summary, grouped_beam_source=self.grouped_beam_source,
            logistic_attention=attention is not None and attention.logistic,
        )

    def init_state(self, enc: EncoderOutput) -> DecoderState:
        """s_0 = tanh(W_s h<-_1 + b) for RNNsearch, tanh(W_s c + b) for RNNencdec."""
        s0 = self.decoder.init_hidden(enc.summary)  # (B, H)
        if enc.beam > 1:
            s0 = s0.repeat_interleave(enc.beam, dim=0)  # (B * K, H)
        return DecoderState(hidden=s0, started=self.decoder.readout_state != "groundhog")

    def step(self, y_prev: torch.Tensor, state: DecoderState, enc: EncoderOutput) -> StepOutput:
        """One decoding step: p(y_i | y_<i, x) from y_{i-1} and the state.

        current / previous: c_i from s_{i-1}, then s_i, then the readout.
        groundhog: first the deferred update s_{i-1} = f(s_{i-2}, E y_{i-1}, c_{i-1}) (none at
        the first step, where y_prev, BOS by convention, is not read), then c_i from s_{i-1},
        then the readout of (s_{i-1}, E y_{i-1} or 0 at the first step, c_i). Updating here
        rather than right after the word is chosen gives the same numbers and keeps the
        search protocol one call per word.

        Shapes: y_prev (B,) previous target ids -> StepOutput(log_probs (B, V), alpha (B, S))
        """
        self._check_step_shapes(y_prev, state, enc)
        fn = compiled(decoder_step) if self.compile_recurrence else decoder_step
        return fn(self.decoder, y_prev, state, enc)

    def forward(
        self, src_ids: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced logits for every target position.

        Shapes: src_ids (B, S); src_mask (B, S); tgt_in (B, T) = [BOS, y_1 .. y_{T-1}]
            returns: logits (B, T, V)
        """
        enc = self.encode(src_ids, src_mask)
        state = self.init_state(enc)
        if not self.fused_forward:
            return self._forward_stepwise(tgt_in, state, enc)
        return self.decoder.readout.W_o(self._output_features(tgt_in, state, enc))  # (B, T, V)

    def summed_nll(
        self, src_ids: torch.Tensor, src_mask: torch.Tensor, tgt_in: torch.Tensor,
        tgt_out: torch.Tensor, ignore_index: int,
    ) -> torch.Tensor:
        """Teacher-forced NLL summed over the target positions whose label is not
        `ignore_index` (padding), the softmax computed in at least float32.

        With `fused_output_loss` (and `fused_forward`) the softmax layer and the loss run
        chunk by chunk (fused_loss.py) and no (B, T, V) tensor is built; otherwise the
        logits of `forward` go through `F.cross_entropy`.

        Shapes: src_ids, src_mask (B, S); tgt_in, tgt_out (B, T) -> ()
        """
        if not (self.fused_output_loss and self.fused_forward):
            logits = self(src_ids, src_mask, tgt_in)  # (B, T, V)
            logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 -> fp32
            return F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(),
                                   ignore_index=ignore_index, reduction="sum")
        enc = self.encode(src_ids, src_mask)
        t = self._output_features(tgt_in, self.init_state(enc), enc)  # (B, T, R)
        W_o = self.decoder.readout.W_o
        return linear_cross_entropy_sum(t.flatten(0, 1), W_o.weight, W_o.bias,
                                        tgt_out.flatten(), ignore_index, self.output_loss_chunk)

    def _output_features(
        self, tgt_in: torch.Tensor, state: DecoderState, enc: EncoderOutput
    ) -> torch.Tensor:
        """The fused paths' input to W_o at every position: (B, T, M), or (B, T, R)."""
        if self.decoder.readout_state == "groundhog":
            return self._forward_fused_groundhog(tgt_in, state, enc)
        return self._forward_fused(tgt_in, state, enc)

    def _forward_stepwise(
        self, tgt_in: torch.Tensor, state: DecoderState, enc: EncoderOutput
    ) -> torch.Tensor:
        """Reference path: literally the `step` loop (log-probs are valid logits)."""
        out = []
        for i in range(tgt_in.size(1)):
            step = self.step(tgt_in[:, i], state, enc)
            out.append(step.log_probs)
            state = step.state
        return torch.stack(out, dim=1)  # (B, T, V)

    def _forward_fused(
        self, tgt_in: torch.Tensor, state: DecoderState, enc: EncoderOutput
    ) -> torch.Tensor:
        """Fast path: only attention and the gated recurrence run per step; returns what W_o
        multiplies at every position (`MaxoutReadout.features`), (B, T, M) or (B, T, R)."""
        dec = self.decoder
        emb = dec.embedding(tgt_in)  # (B, T, E)
        x_in = dec.input_proj(emb)  # (B, T, 3H), all steps in one product
        if self._use_scan(x_in):
            states, contexts = dec.scan(x_in, state.hidden, enc, False)  # (B, T+1, H), (B, T, C)
            read = states[:, 1:] if dec.readout_state == "current" else states[:, :-1]
            return dec.readout.features(read, emb, contexts)  # (B, T, M)
        s = state.hidden
        recurrence = self._recurrence()
        prev_states, states, contexts = [], [], []
        for x_i in x_in.unbind(1):  # not x_in[:, i]: see gru.run_masked
            prev_states.append(s)
            s, context, _ = recurrence(dec, x_i, s, enc)
            states.append(s)
            contexts.append(context)
        read = states if dec.readout_state == "current" else prev_states
        # One deep-output product for all B x T positions.
        return dec.readout.features(torch.stack(read, dim=1), emb,
                                    torch.stack(contexts, dim=1))  # (B, T, M)

    def _forward_fused_groundhog(
        self, tgt_in: torch.Tensor, state: DecoderState, enc: EncoderOutput
    ) -> torch.Tensor:
        """Fast path for readout_state=groundhog: T - 1 updates, each consuming y_1 .. y_{T-1}.

        Position i reads (s_{i-1}, E y_{i-1}, c_i), with a zero word term at i = 1 (the BOS
        column of tgt_in is not read), exactly as the `step` loop does. Returns what W_o
        multiplies, as `_forward_fused`.
        """
        dec = self.decoder
        emb = dec.embedding(tgt_in[:, 1:])  # (B, T-1, E) = E y_1 .. E y_{T-1}
        x_in = dec.input_proj(emb)  # (B, T-1, 3H), all updates in one product
        prev_emb = torch.cat([emb.new_zeros(emb.size(0), 1, emb.size(2)), emb], dim=1)  # (B, T, E)
        s = state.hidden  # s_0, (B, H)
        if self._use_scan(x_in):
            states, contexts = dec.scan(x_in, s, enc, True)  # (B, T, H), (B, T, C)
            return dec.readout.features(states, prev_emb, contexts)  # (B, T, M)
        context, _ = dec.context(s, enc)
        update = self._groundhog_recurrence()
        states, contexts = [s], [context]
        for x_i in x_in.unbind(1):  # not x_in[:, i]: see gru.run_masked
            s, context, _ = update(dec, x_i, s, context, enc)
            states.append(s)
            contexts.append(context)
        # One deep-output product for all B x T positions.
        return dec.readout.features(torch.stack(states, dim=1), prev_emb,
                                    torch.stack(contexts, dim=1))  # (B, T, M)

    def _use_scan(self, x_in: torch.Tensor) -> bool:
        """`scan_backward` applies outside autocast (its products would mix dtypes)."""
        return self.scan_backward and not torch.is_autocast_enabled(x_in.device.type)

    def _recurrence(self) -> Callable[..., Recurrence]:
        """`recurrence_step`, compiled when `compile_recurrence` is set."""
        return compiled(recurrence_step) if self.compile_recurrence else recurrence_step

    def _groundhog_recurrence(self) -> Callable[..., Recurrence]:
        """`groundhog_recurrence_step`, compiled when `compile_recurrence` is set."""
        fn = groundhog_recurrence_step
        return compiled(fn) if self.compile_recurrence else fn

    def _check_step_shapes(
        self, y_prev: torch.Tensor, state: DecoderState, enc: EncoderOutput
    ) -> None:
        B = y_prev.size(0)
        assert y_prev.dim() == 1, f"y_prev must be (B,), got {tuple(y_prev.shape)}"
        assert state.hidden.shape == (B, self.decoder.cell.hidden_dim), (
            "state.hidden must be (B, H)"
        )
        assert enc.src_mask.dtype == torch.bool, "src_mask must be bool (True = real token)"
        assert enc.src_mask.size(0) * enc.beam == B, (
            "enc needs B rows (index_select it to expand beams)"
        )
