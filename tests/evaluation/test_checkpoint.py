"""Rebuilding a model from a Lightning-style checkpoint (weights_only) and the mismatch error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnsearch.checkpoint import load_model
from rnnsearch.config import ModelConfig
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
