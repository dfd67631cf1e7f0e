"""One decoding step: the state carried between steps, what a step returns, and the step itself.

Paper: Sec. 3.1 Eq. (4) and App. A.2.2 (the conditional gated update, attention, maxout deep
output); the order of the per-step calls for each `readout_state` is described in decoder.py.
`Seq2Seq.step` runs `decoder_step` (through `torch.compile` with `compile`), and `forward`'s
per-step loops run `recurrence_step` / `groundhog_recurrence_step`. Not responsible for the
encoder, the teacher-forced fast paths or the loss (seq2seq.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnsearch.models.decoder import ConditionalGRUDecoder
from rnnsearch.models.encoder_output import EncoderOutput

Recurrence = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]


@dataclass(frozen=True)
class DecoderState:
    """The recurrent decoder state between two `step` calls.

    `readout_state=groundhog` defers the update that consumes the emitted word to the next step,
    so the state also carries that update's context c_i (the one the last prediction used) and
    whether any word has been emitted yet (`started`; the first step has no update to apply).
    The other readings keep `context=None` and `started=True`.

    Shapes: hidden (B, H); context (B, C) or None.
    """

    hidden: torch.Tensor
    context: torch.Tensor | None = None
    started: bool = True

    def index_select(self, idx: torch.Tensor) -> DecoderState:
        """Rows `idx` of the state (beam reordering)."""
        return DecoderState(
            hidden=self.hidden.index_select(0, idx),
            context=None if self.context is None else self.context.index_select(0, idx),
            started=self.started,
        )


@dataclass(frozen=True)
class StepOutput:
    """One decoder step. Shapes: log_probs (B, V); alpha (B, S) or None for RNNencdec."""

    log_probs: torch.Tensor
    state: DecoderState
    alpha: torch.Tensor | None


def decoder_step(
    dec: ConditionalGRUDecoder, y_prev: torch.Tensor, state: DecoderState, enc: EncoderOutput
) -> StepOutput:
    """`Seq2Seq.step` after its shape checks: the whole step, which `compile` fuses at once
    (attention, gated update, deep output and log-softmax: one compiled graph per step kind).

    Shapes: y_prev (B,) -> StepOutput(log_probs (B, V), alpha (B, S))
    """
    if dec.readout_state == "groundhog":
        return _groundhog_step(dec, y_prev, state, enc)
    emb = dec.embedding(y_prev)  # (B, E)
    s_prev = state.hidden
    s_new, context, alpha = recurrence_step(dec, dec.input_proj(emb), s_prev, enc)  # (B, H), (B, C)
    logits = dec.readout(dec.output_state(s_prev, s_new), emb, context)  # (B, V)
    return StepOutput(torch.log_softmax(logits, dim=-1), DecoderState(s_new), alpha)


def _groundhog_step(
    dec: ConditionalGRUDecoder, y_prev: torch.Tensor, state: DecoderState, enc: EncoderOutput
) -> StepOutput:
    """`decoder_step` for readout_state=groundhog (see `Seq2Seq.step`)."""
    if state.started:
        emb = dec.embedding(y_prev)  # (B, E) = E y_{i-1}
        s, context, alpha = groundhog_recurrence_step(
            dec, dec.input_proj(emb), state.hidden, state.context, enc)
    else:  # first word: s_0 as it is, and a zero previous-word term in the readout
        s = state.hidden  # (B, H)
        emb = dec.embedding.weight.new_zeros(y_prev.size(0), dec.embedding.embedding_dim)
        context, alpha = dec.context(s, enc)
    logits = dec.readout(s, emb, context)  # (B, V)
    new_state = DecoderState(hidden=s, context=context, started=True)
    return StepOutput(torch.log_softmax(logits, dim=-1), new_state, alpha)


def recurrence_step(
    dec: ConditionalGRUDecoder, x_in: torch.Tensor, s_prev: torch.Tensor, enc: EncoderOutput
) -> Recurrence:
    """Attention + gated update for one step: the part `compile` fuses.

    Shapes: x_in (B, 3H) input projection of E y_{i-1}; s_prev (B, H)
        returns: s_i (B, H), c_i (B, C), alpha_i (B, S) or None
    """
    context, alpha = dec.context(s_prev, enc)
    return dec.recur(x_in, s_prev, context), context, alpha  # (B, H), (B, C), (B, S)


def groundhog_recurrence_step(
    dec: ConditionalGRUDecoder, x_in: torch.Tensor, s_prev: torch.Tensor,
    context_prev: torch.Tensor, enc: EncoderOutput,
) -> Recurrence:
    """GroundHog's order: the gated update that consumes the emitted word, then attention.

    s_i = f(s_{i-1}, E y_i, c_i) with the c_i that predicted y_i, then c_{i+1} from s_i.

    Shapes: x_in (B, 3H) input projection of E y_i; s_prev (B, H); context_prev (B, C)
        returns: s_i (B, H), c_{i+1} (B, C), alpha_{i+1} (B, S) or None
    """
    s = dec.recur(x_in, s_prev, context_prev)  # (B, H)
    context, alpha = dec.context(s, enc)
    return s, context, alpha  # (B, H), (B, C), (B, S)
