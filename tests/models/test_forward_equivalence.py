"""Every speed path equals its reference: fused forward, fused encoder, compile, bf16 autocast."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch._dynamo.utils import counters
from torch.testing import assert_close

LENGTHS = (5, 3, 2)
MODELS = ("rnnsearch", "rnnencdec")


@pytest.mark.parametrize("readout_state", ["groundhog", "current", "previous"])
@pytest.mark.parametrize("name", MODELS)
def test_fused_forward_equals_step_loop(make_model, make_batch, name, readout_state) -> None:
    src_ids, src_mask, tgt_in = make_batch(LENGTHS, T=6)
    fused = make_model(name, readout_state=readout_state)
    stepwise = make_model(name, readout_state=readout_state, fused_forward=False)
    expected = stepwise(src_ids, src_mask, tgt_in)  # log-probs from the `step` loop
    got = torch.log_softmax(fused(src_ids, src_mask, tgt_in), dim=-1)
    assert_close(got, expected, rtol=0, atol=1e-6)


def test_fused_forward_check_is_sensitive_to_readout_state(make_model, make_batch) -> None:
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    current = make_model("rnnsearch", readout_state="current")(src_ids, src_mask, tgt_in)
    previous = make_model("rnnsearch", readout_state="previous")(src_ids, src_mask, tgt_in)
    assert (current - previous).abs().max() > 1e-2  # s_i vs s_{i-1} is visible at 1e-6
    groundhog = make_model("rnnsearch", readout_state="groundhog")(src_ids, src_mask, tgt_in)
    for other in (current, previous):  # the deferred update is visible too, from position 1 on
        assert (torch.log_softmax(groundhog, -1) - torch.log_softmax(other, -1)).abs().max() > 1e-2


@pytest.mark.parametrize("name", MODELS)
def test_groundhog_forward_ignores_bos_column(make_model, make_batch, name) -> None:
    """No BOS step: the first prediction reads a zero word term, whatever tgt_in[:, 0] holds."""
    src_ids, src_mask, tgt_in = make_batch(LENGTHS, T=5)
    other = tgt_in.clone()
    other[:, 0] = (tgt_in[:, 0] + 1) % 11
    for fused in (True, False):
        model = make_model(name, readout_state="groundhog", fused_forward=fused)
        assert torch.equal(model(src_ids, src_mask, tgt_in), model(src_ids, src_mask, other))


@pytest.mark.parametrize("name", MODELS)
def test_fused_encoder_equals_per_direction_loops(make_model, make_batch, name) -> None:
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    fused = make_model(name, fused_encoder=True)
    reference = make_model(name, fused_encoder=False)
    assert_close(
        fused.encoder(src_ids, src_mask), reference.encoder(src_ids, src_mask), rtol=0, atol=1e-12
    )
    loss_f = fused(src_ids, src_mask, tgt_in).logsumexp(-1).sum()
    loss_r = reference(src_ids, src_mask, tgt_in).logsumexp(-1).sum()
    loss_f.backward()
    loss_r.backward()
    for (n, p_f), p_r in zip(fused.named_parameters(), reference.parameters(), strict=True):
        assert_close(p_f.grad, p_r.grad, rtol=0, atol=1e-10, msg=n)


def test_compiled_recurrence_equals_eager(make_model, make_batch) -> None:
    """`compile: true` (decoder recurrence + encoder update; `step` whole) against eager; tiny."""
    torch._dynamo.reset()
    counters.clear()
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    eager = make_model("rnnsearch")
    compiled = make_model("rnnsearch", compile=True)
    loss_e = eager(src_ids, src_mask, tgt_in).logsumexp(-1).sum()
    loss_c = compiled(src_ids, src_mask, tgt_in).logsumexp(-1).sum()
    assert_close(loss_c, loss_e, rtol=0, atol=1e-9)
    # Really compiled (encoder update + decoder recurrence), with no silent graph breaks.
    assert counters["stats"]["unique_graphs"] >= 2 and not counters["graph_break"]
    loss_e.backward()
    loss_c.backward()
    for (n, p_e), p_c in zip(eager.named_parameters(), compiled.parameters(), strict=True):
        assert_close(p_c.grad, p_e.grad, rtol=0, atol=1e-9, msg=n)
    enc = compiled.encode(src_ids, src_mask)  # the search protocol goes through it too
    graphs = counters["stats"]["unique_graphs"]
    step_c = compiled.step(tgt_in[:, 0], compiled.init_state(enc), enc)
    step_c = compiled.step(tgt_in[:, 1], step_c.state, enc)  # the first step and a later one
    enc = eager.encode(src_ids, src_mask)
    step_e = eager.step(tgt_in[:, 1], eager.step(tgt_in[:, 0], eager.init_state(enc), enc).state,
                        enc)
    assert_close(step_c.log_probs, step_e.log_probs, rtol=0, atol=1e-9)
    assert_close(step_c.alpha, step_e.alpha, rtol=0, atol=1e-9)
    # `step` compiled whole: a graph for the first step and one for the later ones, no breaks
    assert counters["stats"]["unique_graphs"] >= graphs + 2 and not counters["graph_break"]
    # A deep copy runs its *own* weights through the shared compiled function, and saves.
    twin = copy.deepcopy(compiled)
    with torch.no_grad():
        twin.decoder.cell.U.weight.mul_(2.0)
    assert not torch.allclose(twin(src_ids, src_mask, tgt_in), compiled(src_ids, src_mask, tgt_in))
    torch.save(twin, io.BytesIO())


@pytest.mark.parametrize("cell", ["paper", "cudnn"])
@pytest.mark.parametrize("name", MODELS)
def test_bf16_autocast_close_to_fp32(make_model, make_batch, name, cell) -> None:
    model = make_model(name, encoder_cell=cell, dtype=torch.float32)
    torch.nn.init.normal_(model.decoder.readout.W_o.weight, std=0.1)  # keep logits O(1)
    src_ids, src_mask, tgt_in = make_batch(LENGTHS, T=8)
    p32 = torch.softmax(model(src_ids, src_mask, tgt_in), dim=-1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits16 = model(src_ids, src_mask, tgt_in)
        enc = model.encode(src_ids, src_mask)
        state = model.init_state(enc)
        for t in range(tgt_in.shape[1]):  # the recurrence, step by step, as search runs it
            state = model.step(tgt_in[:, t], state, enc).state
            assert state.hidden.dtype == torch.float32, t  # docs/model.md: states stay fp32
    assert logits16.dtype == torch.bfloat16  # autocast really ran the products in bf16
    assert enc.annotations.dtype == torch.float32
    p16 = torch.softmax(logits16.float(), dim=-1)
    # bf16 rounds to 2^-8 relative; an fp32 state keeps the error from growing along the
    # recurrence, so every probability is within a few bf16 roundings (a bf16 state is not)
    assert_close(p16, p32, rtol=4 * 2**-8, atol=0)
