"""Rebuild a trained Seq2Seq from a Lightning checkpoint, safely and with a clear mismatch error.

Checkpoints are read with `torch.load(weights_only=True)` only: no pickled code runs. The model is
rebuilt by `models.build_model` from the composed config and the prepared vocabularies, then the
weights that `TranslationModule` stored under the `model.` prefix are loaded strictly.
Not responsible for writing checkpoints (train.py / Lightning).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnsearch.models import Seq2Seq, build_model

MODULE_PREFIX = "model."  # TranslationModule holds the Seq2Seq as `self.model`
COMPILED_PREFIX = "_orig_mod."  # what torch.compile inserts into parameter names


@dataclass(frozen=True)
class CheckpointInfo:
    """Which weights produced a translation: file, training step and content hash."""

    path: str
    step: int
    epoch: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"path": self.path, "step": self.step, "epoch": self.epoch, "sha256": self.sha256}


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (paper-scale checkpoints are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _model_state(ckpt: dict[str, Any], path: Path) -> dict[str, torch.Tensor]:
    """The Seq2Seq weights of a Lightning checkpoint, with the module prefixes removed."""
    if "state_dict" not in ckpt:
        raise ValueError(f"{path}: not a Lightning checkpoint (no 'state_dict')")
    state = {
        k[len(MODULE_PREFIX):].replace(COMPILED_PREFIX, ""): v
        for k, v in ckpt["state_dict"].items() if k.startswith(MODULE_PREFIX)
    }
    if not state:
        raise ValueError(f"{path}: no '{MODULE_PREFIX}*' weights in the checkpoint's state_dict")
    return state


def _check_shapes(
    model: Seq2Seq, state: dict[str, torch.Tensor], ckpt_path: Path, vocab_paths: tuple[str, str]
) -> None:
    """Raise one line naming the vocab files and checkpoint when the shapes disagree."""
    expected = model.state_dict()
    for name, tensor in state.items():
        if name in expected and expected[name].shape != tensor.shape:
            raise ValueError(
                f"{ckpt_path}: {name} has shape {tuple(tensor.shape)} but the model built from "
                f"{vocab_paths[0]} and {vocab_paths[1]} (and the model config) expects "
                f"{tuple(expected[name].shape)}; vocabularies, config and checkpoint do not match"
            )


def load_model(
    model_cfg: Any, ckpt_path: str | os.PathLike[str], src_vocab_path: str | os.PathLike[str],
    tgt_vocab_path: str | os.PathLike[str], src_vocab_size: int, tgt_vocab_size: int,
    device: str | torch.device = "cpu",
) -> tuple[Seq2Seq, CheckpointInfo]:
    """Rebuild the model of `model_cfg` and load the checkpoint's weights into it (eval mode).

    Args:
        model_cfg: a `ModelConfig` (cfg.model).
        ckpt_path: a Lightning checkpoint written by train.py (e.g. best.ckpt).
        src_vocab_path, tgt_vocab_path: the prepared vocabularies (named in errors).
        src_vocab_size, tgt_vocab_size: their sizes.
        device: where the model is placed.

    Raises:
        FileNotFoundError: if the checkpoint is missing (names the command that creates it).
        ValueError: one line, if the checkpoint does not fit the vocabularies or the config.
    """
    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} not found; run `python -m rnnsearch.train experiment=<id>` first"
        )
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    state = _model_state(ckpt, path)
    model = build_model(model_cfg, src_vocab_size, tgt_vocab_size)
    _check_shapes(model, state, path, (str(src_vocab_path), str(tgt_vocab_path)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path}: weights do not match the model config (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]})"
        )
    info = CheckpointInfo(
        path=str(path), step=int(ckpt.get("global_step", -1)), epoch=int(ckpt.get("epoch", -1)),
        sha256=file_sha256(path),
    )
    return model.to(device).eval(), info
