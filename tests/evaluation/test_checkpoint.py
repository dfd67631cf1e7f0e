"""Rebuilding a model from a Lightning-style checkpoint (weights_only) and the mismatch error."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from rnnsearch.config import MODEL_EXECUTION_KEYS, ModelConfig
from rnnsearch.evaluation.checkpoint import checkpoint_model_config, load_model
from rnnsearch.models import build_model

CFG = ModelConfig(emb_dim=8, hidden_dim=10, attn_dim=9, maxout_dim=6)


def _save_ckpt(path: Path, model: torch.nn.Module, step: int = 7) -> None:
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "global_step": step, "epoch": 1}, path)


def test_load_model_restores_weights_and_step(tmp_path: Path) -> None:
    trained = build_model(CFG, 11, 13)
    _save_ckpt(tmp_path / "best.ckpt", trained)
    model, info = load_model(CFG, tmp_path / "best.ckpt", "v.en", "v.fr", 11, 13)
    assert info.step == 7 and len(info.sha256) == 64 and not model.training
    for (name, a), b in zip(trained.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_load_model_vocab_mismatch_names_files(tmp_path: Path) -> None:
    _save_ckpt(tmp_path / "best.ckpt", build_model(CFG, 11, 13))
    with pytest.raises(ValueError, match=r"best.ckpt: .*vocab.en.txt and .*vocab.fr.txt") as err:
        load_model(CFG, tmp_path / "best.ckpt", "p/vocab.en.txt", "p/vocab.fr.txt", 11, 14)
    assert "\n" not in str(err.value)


def test_load_model_missing_checkpoint_names_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="rnnsearch.train"):
        load_model(CFG, tmp_path / "best.ckpt", "a", "b", 11, 13)


def _save_with_hparams(path: Path, model: torch.nn.Module, cfg: ModelConfig) -> None:
    """As TranslationModule.save_hyperparameters stores it: model_cfg as a plain dict (choice
    keys as their strings, as training saves them)."""
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    model_cfg = OmegaConf.to_container(OmegaConf.structured(cfg), enum_to_str=True)
    torch.save({"state_dict": state, "global_step": 3, "epoch": 0,
                "hyper_parameters": {"model_cfg": model_cfg,
                                     "src_vocab_size": 11, "tgt_vocab_size": 13}}, path)


def _logits(model: torch.nn.Module) -> torch.Tensor:
    """log p(y_i | y_<i, x) of a fixed batch. Shapes: (B, T, V)."""
    src = torch.tensor([[4, 5, 6, 2], [7, 8, 2, 0]])
    tgt_in = torch.tensor([[1, 9, 10], [1, 11, 0]])
    with torch.no_grad():
        return model.eval()(src, src != 0, tgt_in).log_softmax(-1)  # (B, T, V)


def test_checkpoint_hyperparameters_win_over_a_differing_config(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trained_cfg = dataclasses.replace(CFG, readout_state="previous", maxout_dim=4)
    trained = build_model(trained_cfg, 11, 13)
    _save_with_hparams(tmp_path / "best.ckpt", trained, trained_cfg)
    run_cfg = dataclasses.replace(CFG, readout_state="current", init_std=0.5)
    with caplog.at_level(logging.WARNING, logger="rnnsearch.evaluation.checkpoint"):
        model, _ = load_model(run_cfg, tmp_path / "best.ckpt", "v.en", "v.fr", 11, 13)
    torch.testing.assert_close(_logits(model), _logits(trained), rtol=0, atol=0)
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "model.maxout_dim=6 (checkpoint: 4)" in warning
    assert "model.readout_state='current' (checkpoint: 'previous')" in warning
    assert "init_std" not in warning  # initialisation is replaced by the weights anyway


def test_checkpoint_matching_config_loads_without_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trained = build_model(CFG, 11, 13)
    _save_with_hparams(tmp_path / "best.ckpt", trained, CFG)
    run_cfg = dataclasses.replace(CFG, fused_forward=not CFG.fused_forward)  # execution only
    with caplog.at_level(logging.WARNING, logger="rnnsearch.evaluation.checkpoint"):
        model, _ = load_model(run_cfg, tmp_path / "best.ckpt", "v.en", "v.fr", 11, 13)
    assert not caplog.records
    torch.testing.assert_close(_logits(model), _logits(trained), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("switch", sorted(MODEL_EXECUTION_KEYS))
def test_execution_switches_come_from_the_config(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, switch: str) -> None:
    """e.g. `translate model.grouped_beam_source=false` is honoured, silently (a number, such
    as `output_loss_chunk`, too)."""
    trained, run = (True, False) if isinstance(getattr(CFG, switch), bool) else (512, 2048)
    trained_cfg = dataclasses.replace(CFG, **{switch: trained})
    _save_with_hparams(tmp_path / "best.ckpt", build_model(CFG, 11, 13), trained_cfg)
    ckpt = torch.load(tmp_path / "best.ckpt", weights_only=True)
    run_cfg = dataclasses.replace(CFG, **{switch: run})
    with caplog.at_level(logging.WARNING, logger="rnnsearch.evaluation.checkpoint"):
        rebuilt, differ = checkpoint_model_config(ckpt, run_cfg, tmp_path / "best.ckpt")
    assert rebuilt[switch] == run and differ == [] and not caplog.records
