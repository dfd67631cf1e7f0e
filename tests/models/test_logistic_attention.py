"""`logistic_attention`: energies through 2 v_a^T sigma(2a) equal the tanh reference up to rounding.

The energies differ from v_a^T tanh(a) by sum(v_a), the same for every j, so alpha, c_i, every
log-probability and every gradient must agree (float64, padded batches).
"""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from rnnsearch.decoding.search import beam_search

LENGTHS = (5, 3, 2)


@pytest.mark.parametrize("readout_state", ["groundhog", "current"])
def test_logistic_attention_equals_tanh_forward_and_gradients(
    make_model, make_batch, readout_state
) -> None:
    src_ids, src_mask, tgt_in = make_batch(LENGTHS, S=6, T=5)
    for fused in (True, False):
        fast = make_model(readout_state=readout_state, logistic_attention=True, fused_forward=fused)
        ref = make_model(readout_state=readout_state, fused_forward=fused)
        out_f, out_r = fast(src_ids, src_mask, tgt_in), ref(src_ids, src_mask, tgt_in)
        assert_close(out_f, out_r, rtol=0, atol=1e-12)
        out_f.logsumexp(-1).sum().backward()
        out_r.logsumexp(-1).sum().backward()
        for (n, p_f), p_r in zip(fast.named_parameters(), ref.parameters(), strict=True):
            assert_close(p_f.grad, p_r.grad, rtol=0, atol=1e-11, msg=n)


def test_logistic_attention_step_and_beam_equal_tanh(make_model, make_batch) -> None:
    src_ids, src_mask, tgt_in = make_batch(LENGTHS, S=6)
    fast, ref = make_model(logistic_attention=True), make_model()
    enc_f, enc_r = fast.encode(src_ids, src_mask), ref.encode(src_ids, src_mask)
    step_f = fast.step(tgt_in[:, 0], fast.init_state(enc_f), enc_f)
    step_r = ref.step(tgt_in[:, 0], ref.init_state(enc_r), enc_r)
    step_f = fast.step(tgt_in[:, 1], step_f.state, enc_f)  # past groundhog's first step
    step_r = ref.step(tgt_in[:, 1], step_r.state, enc_r)
    assert_close(step_f.log_probs, step_r.log_probs, rtol=0, atol=1e-12)
    assert_close(step_f.alpha, step_r.alpha, rtol=0, atol=1e-12)
    assert torch.all(step_f.alpha[~src_mask] == 0)  # still exactly zero on padding
    got = beam_search(fast, src_ids, src_mask, 3, 6)
    want = beam_search(ref, src_ids, src_mask, 3, 6)
    assert got.ids == want.ids
    assert_close(torch.tensor(got.scores), torch.tensor(want.scores), rtol=0, atol=1e-10)
