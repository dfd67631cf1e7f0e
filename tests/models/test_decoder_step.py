"""Decoder step (Eq. 4, App. A.2.2, GroundHog) written out by hand; s_0; RNNencdec's context."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

F64 = torch.float64


def reference_context(model, s_prev, enc):
    """c_i and alpha_i from s_{i-1} (Eq. 5-6), or RNNencdec's fixed c and None."""
    if not model.has_attention:
        return enc.summary, None  # the same c at every step
    att = model.decoder.attention
    q = s_prev @ att.query_proj.weight.T  # W_a s_{i-1}, (B, A)
    k = enc.annotations @ att.key_proj.weight.T + att.key_proj.bias  # U_a h_j, (B, S, A)
    energies = torch.tanh(q.unsqueeze(1) + k) @ att.energy_proj.weight[0]  # (B, S)
    alpha = torch.softmax(energies.masked_fill(~enc.src_mask, -torch.inf), -1)
    return (alpha.unsqueeze(-1) * enc.annotations).sum(1), alpha  # c_i (B, C), (B, S)


def reference_update(model, e, s_prev, c):
    """The gated update (App. A.2.2) from E y, s and c: the new state."""
    dec = model.decoder
    W_r, W_z, W = dec.input_proj.weight.chunk(3)
    b_r, b_z, b = dec.input_proj.bias.chunk(3)
    C_r, C_z, C = dec.context_proj.weight.chunk(3)
    U_r, U_z = dec.cell.U_gates.weight.chunk(2)
    U = dec.cell.U.weight
    r = torch.sigmoid(e @ W_r.T + b_r + s_prev @ U_r.T + c @ C_r.T)
    z = torch.sigmoid(e @ W_z.T + b_z + s_prev @ U_z.T + c @ C_z.T)
    s_tilde = torch.tanh(e @ W.T + b + (r * s_prev) @ U.T + c @ C.T)
    return (1 - z) * s_prev + z * s_tilde


def reference_readout(model, s, e, c):
    """log p(y_i) from t~ = U_o s + V_o E y_{i-1} + C_o c_i, maxout over pairs, W_o."""
    ro = model.decoder.readout
    t_tilde = s @ ro.U_o.weight.T + ro.U_o.bias + e @ ro.V_o.weight.T + c @ ro.C_o.weight.T
    t = torch.maximum(t_tilde[:, 0::2], t_tilde[:, 1::2])
    return torch.log_softmax(t @ ro.W_o.weight.T + ro.W_o.bias, -1)


def reference_step(model, y_prev, s_prev, enc):
    """One step of App. A.2.2 from the model's matrices: (log p(y_i), s_i, alpha_i)."""
    dec = model.decoder
    e = dec.embedding.weight[y_prev]  # E y_{i-1}, (B, E)
    c, alpha = reference_context(model, s_prev, enc)
    s_new = reference_update(model, e, s_prev, c)
    s_read = s_new if dec.readout_state == "current" else s_prev
    return reference_readout(model, s_read, e, c), s_new, alpha


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


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_groundhog_step_loop_matches_its_equations(make_model, make_batch, name) -> None:
    """GroundHog: p(y_i) = g(s_{i-1}, E y_{i-1}, c_i(s_{i-1})), s_i = f(s_{i-1}, E y_i, c_i).

    Written as GroundHog runs it: predict from the current state, then update it with the word
    just emitted; no BOS step, a zero word term for the first prediction.
    """
    model = make_model(name, readout_state="groundhog")
    src_ids, src_mask, tgt_in = make_batch((5, 3, 2), T=5)
    ys = tgt_in[:, 1:]  # y_1 .. y_4, the words the loop "emits" (BOS column not read)
    enc = model.encode(src_ids, src_mask)
    state = model.init_state(enc)
    s = state.hidden  # s_0
    e_prev = torch.zeros(3, model.decoder.embedding.embedding_dim, dtype=F64)  # no y_0
    for i in range(tgt_in.size(1)):
        c, alpha = reference_context(model, s, enc)  # c_{i+1}(s_i)
        log_p = reference_readout(model, s, e_prev, c)
        out = model.step(tgt_in[:, i], state, enc)
        assert_close(out.log_probs, log_p, rtol=0, atol=1e-12)
        assert_close(out.state.hidden, s, rtol=0, atol=1e-12)  # not yet updated with y_{i+1}
        if alpha is None:
            assert out.alpha is None
        else:
            assert_close(out.alpha, alpha, rtol=0, atol=1e-12)
        if i < ys.size(1):  # after the choice: s_{i+1} = f(s_i, E y_{i+1}, c_{i+1})
            e_prev = model.decoder.embedding.weight[ys[:, i]]
            s = reference_update(model, e_prev, s, c)
        state = out.state


def test_groundhog_first_step_has_zero_word_term_and_no_update(make_model, make_batch) -> None:
    model = make_model("rnnsearch", readout_state="groundhog")
    src_ids, src_mask, _ = make_batch((5, 3, 2))
    enc = model.encode(src_ids, src_mask)
    state = model.init_state(enc)
    assert not state.started and state.context is None
    first = model.step(torch.tensor([1, 5, 9]), state, enc)
    assert torch.equal(first.state.hidden, state.hidden)  # s_0: nothing consumed yet
    assert torch.equal(first.log_probs, model.step(torch.tensor([4, 4, 4]), state, enc).log_probs)
    assert first.state.started and first.state.context is not None
    second = model.step(torch.tensor([1, 5, 9]), first.state, enc)
    assert not torch.allclose(second.state.hidden, state.hidden)  # now the update runs


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


@pytest.mark.parametrize("readout_state", ["groundhog", "current"])
@pytest.mark.parametrize("encdec_context", ["last_state", "tanh_layer"])
def test_rnnencdec_context_is_constant_and_alpha_none(
    make_model, make_batch, encdec_context, readout_state
) -> None:
    model = make_model("rnnencdec", encdec_context=encdec_context, readout_state=readout_state)
    src_ids, src_mask, tgt_in = make_batch((5, 3, 2))
    enc = model.encode(src_ids, src_mask)
    h_last = enc.annotations[torch.arange(3), src_mask.sum(1) - 1]  # h->_Tx, (B, H)
    if encdec_context == "last_state":  # App. A.2.2 / GroundHog: c = h->_Tx, no extra layer
        assert torch.equal(enc.summary, h_last)
        assert not any("summary_proj" in n for n, _ in model.named_parameters())
    else:  # ours: c = tanh(V h_Tx)
        V = model.decoder.summary_proj
        assert_close(enc.summary, torch.tanh(h_last @ V.weight.T + V.bias), rtol=0, atol=1e-12)
    W_s = model.decoder.init_proj  # s_0 = tanh(W_s c + b)
    s0 = model.init_state(enc).hidden
    assert_close(s0, torch.tanh(enc.summary @ W_s.weight.T + W_s.bias), rtol=0, atol=1e-12)
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
