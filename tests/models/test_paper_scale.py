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
PAPER_SCALE = CONF.parent / "scale" / "paper.yaml"
VOCAB = 30_000  # Sec. 4.1: shortlist of the 30,000 most frequent words per language
GROUNDHOG_VOCAB = 30_001  # GroundHog's state: 30,000 words + end of sentence, both sides
# GroundHog's parameter counts, from its layer definitions (encdec.py, prototype_search_state)
GROUNDHOG_PARAMS = {"rnnsearch": 84_349_101, "rnnencdec": 72_487_101}


def paper_config(name: str, scale: bool = False, **overrides: object) -> ModelConfig:
    """conf/model/<name>.yaml validated against the ModelConfig schema (+ scale=paper's model
    keys with `scale`)."""
    yaml = OmegaConf.load(CONF / f"{name}.yaml")
    yaml.pop("defaults", None)
    scale_keys = OmegaConf.load(PAPER_SCALE).get("model", {}) if scale else {}
    cfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), yaml, scale_keys, overrides)
    return OmegaConf.to_object(cfg)


def count(cfg: ModelConfig, vocab: int) -> int:
    with torch.device("meta"):
        model = build_model(cfg, vocab, vocab)
    return sum(p.numel() for p in model.parameters())


def expected_params(
    Vx: int, Vy: int, m: int, n: int, n_a: int, ell: int, attention: bool, cell: str = "paper",
    tanh_layer: bool = False, output_rank: int | None = None, gate_bias: bool = True,
    attention_bias: bool = True, embedding_bias: bool = False,
) -> int:
    """Parameters implied by App. A.2 (m = E, n = H, n' = n_a = A, l = ell = M; pool of 2).

    The switches are GroundHog's layer definitions: `output_rank` R factorises W_o as
    (Vy x R)(R x l); without `gate_bias` only the candidate input W carries a bias; without
    `attention_bias` U_a has none; `embedding_bias` is GroundHog's bias on each word embedding
    (E x + b, source and target), which this project does not have.
    """
    D = 2 if attention else 1  # encoder directions
    C = D * n  # size of h_j and c_i
    input_bias = 3 * n if gate_bias else n  # b_r, b_z, b or b only
    # Encoder, per direction: W, W_z, W_r (n x m) with biases; U, U_z, U_r (n x n).
    # cuDNN's GRU carries a second bias per gate (b_h*), hence 6n instead of 3n.
    enc_bias = input_bias if cell == "paper" else 6 * n
    encoder = Vx * m + D * (3 * n * m + enc_bias + 3 * n * n)
    # Decoder: E (Vy x m); W, W_z, W_r (n x m) + biases; U, U_z, U_r; C, C_z, C_r (n x C).
    decoder = Vy * m + 3 * n * m + input_bias + 3 * n * n + 3 * n * C
    decoder += n * n + n  # W_s: s_0 = tanh(W_s h<-_1) (or tanh(W_s c))
    # Deep output: U_o (2l x n) + bias, V_o (2l x m), C_o (2l x C); W_o (Vy x l) + bias.
    decoder += 2 * ell * n + 2 * ell + 2 * ell * m + 2 * ell * C + Vy
    decoder += Vy * ell if output_rank is None else ell * output_rank + output_rank * Vy
    if attention:  # W_a (n' x n), U_a (n' x 2n) + bias, v_a (n')
        decoder += n_a * n + n_a * C + n_a + (n_a if attention_bias else 0)
    elif tanh_layer:  # RNNencdec with encdec_context=tanh_layer: c = tanh(V h_Tx), V + bias
        decoder += n * n + n
    # RNNencdec as in App. A.2.2: c = h->_Tx itself, no parameters
    return encoder + decoder + (2 * m if embedding_bias else 0)


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


def _groundhog_formula(cfg: ModelConfig, vocab: int, embedding_bias: bool) -> int:
    return expected_params(
        vocab, vocab, cfg.emb_dim, cfg.hidden_dim, cfg.attn_dim, cfg.maxout_dim, cfg.attention,
        output_rank=cfg.output_rank, gate_bias=cfg.gate_bias,
        attention_bias=cfg.attention_bias, embedding_bias=embedding_bias,
    )


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_scale_paper_layers_match_groundhog(name: str) -> None:
    cfg = paper_config(name, scale=True)
    assert (cfg.output_rank, cfg.gate_bias, cfg.attention_bias) == (620, False, False)
    # our model at scale=paper equals the equations with GroundHog's switches
    assert count(cfg, VOCAB) == _groundhog_formula(cfg, VOCAB, embedding_bias=False)
    # the same equations with GroundHog's vocabulary and embedding biases give its count
    assert _groundhog_formula(cfg, GROUNDHOG_VOCAB, embedding_bias=True) == GROUNDHOG_PARAMS[name]
    # what remains (docs/model.md): one vocabulary row per side and the two embedding biases
    remaining = GROUNDHOG_PARAMS[name] - count(cfg, VOCAB)
    m = cfg.emb_dim
    assert remaining == (m + m + cfg.output_rank + 1) + 2 * m
    print(f"{name} at scale=paper: {count(cfg, VOCAB):,} parameters (GroundHog "
          f"{GROUNDHOG_PARAMS[name]:,})")


@pytest.mark.parametrize("switch, removed", [
    ("gate_bias", lambda n: 3 * 2 * n),  # r and z biases: 2 encoder directions + decoder
    ("attention_bias", lambda n: n),  # the bias of U_a h_j (n' = n here)
])
def test_groundhog_bias_switches_remove_exactly_those_biases(switch: str, removed) -> None:
    base = count(paper_config("rnnsearch"), VOCAB)
    without = count(paper_config("rnnsearch", **{switch: False}), VOCAB)
    assert base - without == removed(1000)
