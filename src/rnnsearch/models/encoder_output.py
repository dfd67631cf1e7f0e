"""EncoderOutput: what the decoder reads from the source, computed once per sentence.

Paper: Sec. 3.1 / App. A.1.2 (the annotations h_j and, precomputed, U_a h_j) and Sec. 2.1 (the
fixed context c of RNNencdec). Built by `Seq2Seq.encode`; read by the decoders (`context`,
`scan`) and reordered by beam search (`index_select`). Not responsible for computing any of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch


@dataclass(frozen=True)
class EncoderOutput:
    """Everything the decoder needs from the source, computed once per sentence.

    Shapes: annotations (B, S, C); keys (B, S, A) = U_a h_j or None; src_mask (B, S) bool;
    summary (B, H): h<-_1 (RNNsearch) or c (RNNencdec: h->_Tx, or tanh(V h_Tx) with
    encdec_context=tanh_layer).

    `beam` > 1 (only with the model's `grouped_beam_source` switch): each row
    serves `beam` consecutive decoder rows. `index_select` with the beam expansion
    arange(B).repeat_interleave(K) then keeps one copy of the source per sentence instead of K,
    and attention reads it once per sentence (a (B, K, S) x (B, S, C) product instead of B*K
    matrix-vector ones). Any other selection materialises the rows first.

    `logistic_attention` (the model's switch): `keys2` = 2 U_a h_j, which the logistic energies
    read, is computed here once per sentence instead of doubling the (B, K, S, A) sum at every
    step (exactly equal: doubling is exact in binary floating point). It follows `keys` through
    `dataclasses.replace` and `index_select`; None otherwise.
    """

    annotations: torch.Tensor
    keys: torch.Tensor | None
    src_mask: torch.Tensor
    summary: torch.Tensor
    beam: int = 1
    grouped_beam_source: bool = False
    logistic_attention: bool = False
    keys2: torch.Tensor | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys2 = 2.0 * self.keys if self.logistic_attention and self.keys is not None else None
        object.__setattr__(self, "keys2", keys2)  # (B, S, A) or None

    def index_select(self, idx: torch.Tensor) -> EncoderOutput:
        """Rows `idx` of every field (beam expansion / reordering)."""
        rows = self.src_mask.size(0)
        if self.beam > 1:  # materialise, then select
            expand = torch.arange(rows, device=idx.device).repeat_interleave(self.beam)
            return replace(self._select(expand), beam=1).index_select(idx)
        if self.grouped_beam_source and idx.numel() > rows and idx.numel() % rows == 0:
            k = idx.numel() // rows
            if torch.equal(idx, torch.arange(rows, device=idx.device).repeat_interleave(k)):
                return replace(self, beam=k)
        return self._select(idx)

    def _select(self, idx: torch.Tensor) -> EncoderOutput:
        return replace(
            self,
            annotations=self.annotations.index_select(0, idx),
            keys=None if self.keys is None else self.keys.index_select(0, idx),
            src_mask=self.src_mask.index_select(0, idx),
            summary=self.summary.index_select(0, idx),
        )
