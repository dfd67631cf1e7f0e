"""Both models build at paper scale (conf/model/*.yaml, 30k shortlist) on the meta device.

The expected parameter count is derived term by term from the paper's equations (App. A),
including the bias vectors the paper omits from its notation ("we omit bias terms").
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from rnnsearch.config import ModelConfig
from rnnsearch.models import build_model

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"
VOCAB = 30_000  # Sec. 4.1: shortlist of the 30,000 most frequent words per language


def paper_config(name: str, **overrides: object) -> ModelConfig:
    """conf/model/<name>.yaml validated against the ModelConfig schema."""
    yaml = OmegaConf.load(CONF / f"{name}.yaml")
    yaml.pop("defaults", None)
    cfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), yaml, overrides)
    return OmegaConf.to_object(cfg)


def expected_params(
    Vx: int, Vy: int, m: int, n: int, n_a: int, ell: int, attention: bool, cell: str = "paper",
    tanh_layer: bool = False,
) -> int:
    """Parameters implied by App. A.2 (m = E, n = H, n' = n_a = A, l = ell = M; pool of 2)."""
    D = 2 if attention else 1  # encoder directions
    C = D * n  # size of h_j and c_i
    # Encoder, per direction: W, W_z, W_r (n x m) with biases; U, U_z, U_r (n x n).
    # cuDNN's GRU carries a second bias per gate (b_h*), hence 6n instead of 3n.
    gate_bias = 3 * n if cell == "paper" else 6 * n
    encoder = Vx * m + D * (3 * n * m + gate_bias + 3 * n * n)
    # Decoder: E (Vy x m); W, W_z, W_r (n x m) + biases; U, U_z, U_r; C, C_z, C_r (n x C).
    decoder = Vy * m + 3 * n * m + 3 * n + 3 * n * n + 3 * n * C
    decoder += n * n + n  # W_s: s_0 = tanh(W_s h<-_1) (or tanh(W_s c))
    # Deep output: U_o (2l x n) + bias, V_o (2l x m), C_o (2l x C); W_o (Vy x l) + bias.
    decoder += 2 * ell * n + 2 * ell + 2 * ell * m + 2 * ell * C + Vy * ell + Vy
    if attention:  # W_a (n' x n), U_a (n' x 2n) + bias, v_a (n')
        decoder += n_a * n + n_a * C + n_a + n_a
    elif tanh_layer:  # RNNencdec with encdec_context=tanh_layer: c = tanh(V h_Tx), V + bias
        decoder += n * n + n
    # RNNencdec as in App. A.2.2: c = h->_Tx itself, no parameters
    return encoder + decoder


@pytest.mark.parametrize("cell", ["paper", "cudnn"])
@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_paper_scale_param_count_matches_formula(name: str, cell: str) -> None:
    cfg = paper_config(name, encoder_cell=cell)
    assert (cfg.emb_dim, cfg.hidden_dim, cfg.maxout_dim) == (620, 1000, 500)  # Sec. 4.2
    # Table 1's code (GroundHog): readout from s_{i-1}, state updated with the emitted word;
    # RNNencdec's c = h->_Tx (App. A.2.2).
    assert (cfg.readout_state, cfg.encdec_context) == ("groundhog", "last_state")
    with torch.device("meta"):
        model = build_model(cfg, VOCAB, VOCAB)
    assert all(p.device.type == "meta" for p in model.parameters())
    got = sum(p.numel() for p in model.parameters())
    want = expected_params(
        VOCAB, VOCAB, cfg.emb_dim, cfg.hidden_dim, cfg.attn_dim, cfg.maxout_dim, cfg.attention,
        cell, tanh_layer=cfg.encdec_context == "tanh_layer",
    )
    print(f"{name} ({cell} encoder) at paper scale: {got:,} parameters")
    assert got == want


def test_rnnencdec_tanh_layer_adds_exactly_v_and_its_bias() -> None:
    counts = {}
    for context in ("last_state", "tanh_layer"):
        with torch.device("meta"):
            model = build_model(paper_config("rnnencdec", encdec_context=context), VOCAB, VOCAB)
        counts[context] = sum(p.numel() for p in model.parameters())
    assert counts["tanh_layer"] - counts["last_state"] == 1000 * 1000 + 1000
