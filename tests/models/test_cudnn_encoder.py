"""`encoder_cell: cudnn`: torch.nn.GRU semantics (a different gated unit), masked padding.

The cuDNN cell is *not* expected to equal the paper's (see test_gru_cell): these tests check
that it runs, that padding never leaks into real positions, and that each annotation is exactly
what `torch.nn.GRU` computes on the unpadded sentence alone.
"""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_cudnn_encoder_equals_nn_gru_on_each_sentence_alone(make_model, make_batch, name) -> None:
    model = make_model(name, encoder_cell="cudnn")
    enc = model.encoder
    src_ids, src_mask, _ = make_batch((5, 3, 1))
    annotations = enc(src_ids, src_mask)  # (B, S, D * H)
    assert annotations.shape == (3, 5, enc.out_dim)
    for b, L in enumerate(src_mask.sum(1).tolist()):
        alone, _ = enc.rnn(enc.embedding(src_ids[b : b + 1, :L]))  # (1, L, D * H), no packing
        assert_close(annotations[b, :L], alone[0], rtol=0, atol=1e-12)
        assert (annotations[b, L:] == 0).all()


def test_cudnn_backward_direction_starts_at_last_real_word(make_model, make_batch) -> None:
    model = make_model("rnnsearch", encoder_cell="cudnn")
    src_ids, src_mask, _ = make_batch((4, 2))
    H = model.encoder.hidden_dim
    annotations = model.encoder(src_ids, src_mask)
    # h<-_2 of the 2-word sentence has seen exactly one word: the GRU step from a zero state.
    rnn = model.encoder.rnn
    x = model.encoder.embedding(src_ids[1, 1:2])  # (1, E)
    cell = torch.nn.GRUCell(rnn.input_size, H).to(torch.float64)
    with torch.no_grad():
        for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, part).copy_(getattr(rnn, f"{part}_l0_reverse"))
    assert_close(annotations[1, 1, H:], cell(x)[0], rtol=0, atol=1e-12)


def test_cudnn_encoder_gives_decoder_usable_outputs(make_model, make_batch) -> None:
    for name in ("rnnsearch", "rnnencdec"):
        model = make_model(name, encoder_cell="cudnn")
        src_ids, src_mask, tgt_in = make_batch((5, 3, 2))
        logits = model(src_ids, src_mask, tgt_in)
        assert logits.shape == (3, 4, model.decoder.readout.W_o.out_features)
        assert torch.isfinite(logits).all()
