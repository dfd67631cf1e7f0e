"""GroundHog's layer definitions (scale=paper): each switch against its equation.

`gate_bias=false`: [W_r; W_z; W] x + [0; 0; b]; `attention_bias=false`: keys U_a h_j with no
bias; `output_rank=R`: logits W_o2 (W_o1 t_i) + b, a rank-R product in place of W_o.
"""

from __future__ import annotations

import torch
from torch.testing import assert_close

from rnnsearch.models.gru import CandidateBiasProjection
from rnnsearch.models.readout import MaxoutReadout, maxout

GEN = torch.Generator().manual_seed(0)


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=GEN, dtype=torch.float64)


def test_candidate_bias_projection_has_no_gate_bias() -> None:
    H, E = 4, 3
    proj = CandidateBiasProjection(E, H).double()
    with torch.no_grad():
        proj.weight.copy_(_randn(3 * H, E))
        proj.bias.copy_(_randn(H))
    x = _randn(2, 5, E)
    W_r, W_z, W = proj.weight.chunk(3)
    want = torch.cat([x @ W_r.T, x @ W_z.T, x @ W.T + proj.bias], dim=-1)  # (2, 5, 3H)
    assert_close(proj(x), want, rtol=0, atol=1e-12)
    proj(x).sum().backward()
    assert_close(proj.bias.grad, torch.full((H,), 10.0, dtype=torch.float64))  # 2 x 5 rows


def test_factorised_output_layer_is_the_rank_r_product() -> None:
    H, E, C, M, V, R = 6, 4, 12, 5, 9, 3
    readout = MaxoutReadout(H, E, C, M, 2, V, output_rank=R).double()
    with torch.no_grad():
        for p in readout.parameters():
            p.copy_(_randn(*p.shape))
    assert readout.W_o_low.weight.shape == (R, M) and readout.W_o.weight.shape == (V, R)
    s, e, c = _randn(3, H), _randn(3, E), _randn(3, C)
    t = maxout(s @ readout.U_o.weight.T + readout.U_o.bias + e @ readout.V_o.weight.T
               + c @ readout.C_o.weight.T, 2)  # (3, M)
    W_o = readout.W_o.weight @ readout.W_o_low.weight  # (V, M), rank R
    assert torch.linalg.matrix_rank(W_o) == R
    assert_close(readout(s, e, c), t @ W_o.T + readout.W_o.bias, rtol=0, atol=1e-12)


def test_alignment_model_without_bias(make_model, make_batch) -> None:
    model = make_model("rnnsearch", attention_bias=False, gate_bias=False)
    att = model.decoder.attention
    assert att.key_proj.bias is None
    src_ids, src_mask, _ = make_batch()
    enc = model.encode(src_ids, src_mask)
    assert_close(enc.keys, enc.annotations @ att.key_proj.weight.T, rtol=0, atol=1e-12)
    for proj in (*model.encoder.input_proj, model.decoder.input_proj):
        assert isinstance(proj, CandidateBiasProjection)
