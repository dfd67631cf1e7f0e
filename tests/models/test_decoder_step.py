"""Decoder step (Eq. 4, App. A.2.2) written out by hand; s_0; RNNencdec's fixed context."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

F64 = torch.float64


def reference_step(model, y_prev, s_prev, enc):
    """One step of App. A.2.2 from the model's matrices: (log p(y_i), s_i, alpha_i)."""
    dec = model.decoder
    e = dec.embedding.weight[y_prev]  # E y_{i-1}, (B, E)
    alpha = None
    if model.has_attention:
        att = dec.attention
        q = s_prev @ att.query_proj.weight.T  # W_a s_{i-1}, (B, A)
        k = enc.annotations @ att.key_proj.weight.T + att.key_proj.bias  # U_a h_j, (B, S, A)
        energies = torch.tanh(q.unsqueeze(1) + k) @ att.energy_proj.weight[0]  # (B, S)
        alpha = torch.softmax(energies.masked_fill(~enc.src_mask, -torch.inf), -1)
        c = (alpha.unsqueeze(-1) * enc.annotations).sum(1)  # c_i, (B, 2H)
    else:
        c = enc.summary  # the same c at every step
    W_r, W_z, W = dec.input_proj.weight.chunk(3)
    b_r, b_z, b = dec.input_proj.bias.chunk(3)
    C_r, C_z, C = dec.context_proj.weight.chunk(3)
    U_r, U_z = dec.cell.U_gates.weight.chunk(2)
    U = dec.cell.U.weight
    r = torch.sigmoid(e @ W_r.T + b_r + s_prev @ U_r.T + c @ C_r.T)
    z = torch.sigmoid(e @ W_z.T + b_z + s_prev @ U_z.T + c @ C_z.T)
    s_tilde = torch.tanh(e @ W.T + b + (r * s_prev) @ U.T + c @ C.T)
    s_new = (1 - z) * s_prev + z * s_tilde
    ro = dec.readout
    s_read = s_new if dec.readout_uses_current else s_prev
    t_tilde = s_read @ ro.U_o.weight.T + ro.U_o.bias + e @ ro.V_o.weight.T + c @ ro.C_o.weight.T
    t = torch.maximum(t_tilde[:, 0::2], t_tilde[:, 1::2])
    logits = t @ ro.W_o.weight.T + ro.W_o.bias
    return torch.log_softmax(logits, -1), s_new, alpha


@pytest.mark.parametrize("readout_state", ["current", "previous"])
@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_step_matches_app_a22_written_out(make_model, make_batch, name, readout_state) -> None:
    model = make_model(name, readout_state=readout_state)
    src_ids, src_mask, tgt_in = make_batch((5, 3, 2))
    enc = model.encode(src_ids, src_mask)
    state = model.init_state(enc)
    for i in range(tgt_in.size(1)):
        out = model.step(tgt_in[:, i], state, enc)
        log_p, s_new, alpha = reference_step(model, tgt_in[:, i], state.hidden, enc)
        assert_close(out.log_probs, log_p, rtol=0, atol=1e-12)
        assert_close(out.state.hidden, s_new, rtol=0, atol=1e-12)
        if alpha is None:
            assert out.alpha is None
        else:
            assert_close(out.alpha, alpha, rtol=0, atol=1e-12)
        state = out.state


@pytest.mark.parametrize("cell", ["paper", "cudnn"])
def test_initial_state_reads_backward_annotation_of_first_word(make_model, make_batch, cell):
    model = make_model("rnnsearch", encoder_cell=cell)
    src_ids, src_mask, _ = make_batch((5, 3, 2))
    H = model.encoder.hidden_dim
    enc = model.encode(src_ids, src_mask)
    W_s = model.decoder.init_proj
    h_back_1 = enc.annotations[:, 0, H:]  # h<-_1, (B, H)
    assert torch.equal(enc.summary, h_back_1)
    s0 = model.init_state(enc).hidden
    assert_close(s0, torch.tanh(h_back_1 @ W_s.weight.T + W_s.bias), rtol=0, atol=1e-12)
    # Sensitivity: s_0 ignores the forward RNN but depends on the backward one.
    fwd, bwd = _direction_params(model, cell)
    with torch.no_grad():
        fwd.add_(0.5)
    assert torch.equal(model.init_state(model.encode(src_ids, src_mask)).hidden, s0)
    with torch.no_grad():
        bwd.add_(0.5)
    assert not torch.allclose(model.init_state(model.encode(src_ids, src_mask)).hidden, s0)


def _direction_params(model, cell: str) -> tuple[torch.Tensor, torch.Tensor]:
    if cell == "paper":
        cells = model.encoder.cells
        return cells[0].U.weight, cells[1].U.weight
    return model.encoder.rnn.weight_hh_l0, model.encoder.rnn.weight_hh_l0_reverse


def test_rnnencdec_context_is_constant_and_alpha_none(make_model, make_batch) -> None:
    model = make_model("rnnencdec")
    src_ids, src_mask, tgt_in = make_batch((5, 3, 2))
    enc = model.encode(src_ids, src_mask)
    V = model.decoder.summary_proj
    h_last = enc.annotations[torch.arange(3), src_mask.sum(1) - 1]  # h_Tx, (B, H)
    assert_close(enc.summary, torch.tanh(h_last @ V.weight.T + V.bias), rtol=0, atol=1e-12)
    assert enc.keys is None
    seen = []  # the context C_o reads at each step
    model.decoder.readout.C_o.register_forward_hook(lambda _m, args, _o: seen.append(args[0]))
    state = model.init_state(enc)
    for i in range(tgt_in.size(1)):
        out = model.step(tgt_in[:, i], state, enc)
        assert out.alpha is None
        state = out.state
    assert len(seen) == tgt_in.size(1)
    for context in seen:
        assert torch.equal(context, enc.summary)
