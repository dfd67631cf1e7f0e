"""RNNencdec and RNNsearch in pure PyTorch; `build_model` is the only factory.

This package imports only torch: no Lightning, Hydra, W&B or file I/O (a test enforces it).
"""

from __future__ import annotations

from typing import Any

from rnnsearch.models.decoder import AttentionDecoder, ContextDecoder
from rnnsearch.models.decoder_step import DecoderState, StepOutput
from rnnsearch.models.encoder import Encoder
from rnnsearch.models.encoder_output import EncoderOutput
from rnnsearch.models.init import init_paper
from rnnsearch.models.seq2seq import Seq2Seq

__all__ = ["DecoderState", "EncoderOutput", "Seq2Seq", "StepOutput", "build_model"]


def build_model(cfg: Any, src_vocab_size: int, tgt_vocab_size: int) -> Seq2Seq:
    """Build and initialise RNNsearch (cfg.attention) or RNNencdec from a `ModelConfig`.

    Args:
        cfg: an object with the fields of `rnnsearch.config.ModelConfig`.
        src_vocab_size: source shortlist size (with specials).
        tgt_vocab_size: target shortlist size (with specials).
    """
    encoder = Encoder(
        src_vocab_size,
        cfg.emb_dim,
        cfg.hidden_dim,
        cfg.bidirectional,
        cfg.encoder_cell,
        fused_encoder=cfg.fused_encoder,
        compile_recurrence=cfg.compile,
        scan_backward=cfg.scan_backward,
        gate_bias=cfg.gate_bias,
    )
    common = dict(
        vocab_size=tgt_vocab_size,
        emb_dim=cfg.emb_dim,
        hidden_dim=cfg.hidden_dim,
        maxout_dim=cfg.maxout_dim,
        maxout_pool=cfg.maxout_pool,
        readout_state=cfg.readout_state,
        gate_bias=cfg.gate_bias,
        output_rank=cfg.output_rank,
    )
    decoder = (
        AttentionDecoder(
            attn_dim=cfg.attn_dim, logistic_attention=cfg.logistic_attention,
            attention_bias=cfg.attention_bias, **common
        )
        if cfg.attention
        else ContextDecoder(encdec_context=cfg.encdec_context, **common)
    )
    model = Seq2Seq(
        encoder, decoder, cfg.fused_forward, cfg.compile, cfg.scan_backward,
        cfg.grouped_beam_source, cfg.fused_output_loss, cfg.output_loss_chunk,
    )
    init_paper(model, cfg.init_std, cfg.attn_init_std, cfg.orthogonal_recurrent)
    return model
