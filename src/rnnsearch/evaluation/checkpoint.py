"""Rebuild a trained Seq2Seq from a Lightning checkpoint, safely and with a clear mismatch error.

Checkpoints are read with `torch.load(weights_only=True)` only: no pickled code runs. The model is
rebuilt by `models.build_model` from the checkpoint's own saved model hyperparameters
(`TranslationModule.save_hyperparameters`: `hyper_parameters.model_cfg`), so a config that says
otherwise (another `model.readout_state`, other sizes) cannot give a silently different model: the
differing keys are named in a warning and the checkpoint's values win. Only execution switches
that give the same function (`config.MODEL_EXECUTION_KEYS`) come from the config. The weights that
`TranslationModule` stored under the `model.` prefix are then loaded strictly.
Not responsible for writing checkpoints (train.py / Lightning).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from rnnsearch.config import MODEL_EXECUTION_KEYS, MODEL_INIT_KEYS
from rnnsearch.data.guards import FINGERPRINT_KEY
from rnnsearch.file_hash import file_sha256
from rnnsearch.models import Seq2Seq, build_model

log = logging.getLogger(__name__)

MODULE_PREFIX = "model."  # TranslationModule holds the Seq2Seq as `self.model`
COMPILED_PREFIX = "_orig_mod."  # what torch.compile inserts into parameter names
# model keys taken from the config, not the checkpoint: how to run, not what is computed
EXECUTION_KEYS = MODEL_EXECUTION_KEYS
# initialisation only: the loaded weights replace what they set, so a difference is harmless
INIT_KEYS = MODEL_INIT_KEYS
CHECKPOINTS = ("best", "last")  # eval.checkpoint: lowest dev NLL | as training ended


@dataclass(frozen=True)
class CheckpointInfo:
    """Which weights produced a translation: file, training step and content hash."""

    path: str
    step: int
    epoch: int
    sha256: str
    prepared_data: str | None = None  # hash of the prepared data it was trained on (guards.py)
    model: dict[str, Any] | None = None  # the model config it was rebuilt with (sizes, switches)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"path": self.path, "step": self.step, "epoch": self.epoch, "sha256": self.sha256,
                "prepared_data": self.prepared_data, "model": self.model}


def table1_checkpoint(eval_cfg: Any, experiment: str) -> str:
    """Which checkpoint Table 1 translates for `experiment`: `best` or `last`.

    `eval.checkpoint_by_experiment[experiment]` when listed (scale=paper: GroundHog's `last` for
    the four models with an update budget), else `eval.checkpoint`.

    Raises:
        ValueError: one line naming the key, for any value other than best | last.
    """
    by_experiment = eval_cfg.get("checkpoint_by_experiment") or {}
    key = (f"eval.checkpoint_by_experiment.{experiment}" if experiment in by_experiment
           else "eval.checkpoint")
    choice = by_experiment.get(experiment, eval_cfg.get("checkpoint", "best"))
    if choice not in CHECKPOINTS:
        raise ValueError(f"{key} must be one of {'|'.join(CHECKPOINTS)}, got {choice!r}")
    return choice


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


def read_checkpoint(path: Path) -> dict[str, Any]:
    """`torch.load(weights_only=True)` of a checkpoint file, damaged files as one line.

    Raises:
        ValueError: names the file when it is truncated, empty or not a torch checkpoint
            (torch itself raises OSError, EOFError or a multi-line UnpicklingError there).
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's message is a page about weights_only
        reason = "not a weights-only torch file"
    except (OSError, EOFError, RuntimeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    else:
        if not isinstance(ckpt, dict):
            raise ValueError(f"{path}: not a Lightning checkpoint (a {type(ckpt).__name__})")
        return ckpt
    raise ValueError(f"{path}: damaged or not a checkpoint ({reason}); train again with "
                     "`python -m rnnsearch.train experiment=<id>`")


def _as_dict(model_cfg: Any) -> dict[str, Any]:
    """A `ModelConfig` dataclass or DictConfig as a plain dict, choice keys as their strings
    (as the checkpoint holds them)."""
    node = (OmegaConf.structured(model_cfg) if dataclasses.is_dataclass(model_cfg)
            else OmegaConf.create(model_cfg))
    return dict(OmegaConf.to_container(node, resolve=True, enum_to_str=True))


def checkpoint_model_config(
    ckpt: dict[str, Any], model_cfg: Any, path: Path
) -> tuple[dict[str, Any], list[str]]:
    """The model config to rebuild with: the checkpoint's saved values over `model_cfg`.

    Returns:
        (config dict, the keys whose config value differed and was replaced), after logging a
        warning that names them. A checkpoint without saved hyperparameters uses `model_cfg`.
    """
    current = _as_dict(model_cfg)
    saved = (ckpt.get("hyper_parameters") or {}).get("model_cfg")
    if not saved:
        log.warning("%s: no saved model hyperparameters; building the model from the config", path)
        return current, []
    saved = {k: v for k, v in saved.items() if k not in EXECUTION_KEYS}
    differ = sorted(k for k, v in saved.items()
                    if k in current and k not in INIT_KEYS and current[k] != v)
    if differ:
        log.warning(
            "%s: the config's model differs from the checkpoint's in %s; the model is rebuilt "
            "from the checkpoint's hyperparameters", path,
            ", ".join(f"model.{k}={current[k]!r} (checkpoint: {saved[k]!r})" for k in differ))
    unrecorded = sorted(set(current) - set(saved) - EXECUTION_KEYS - INIT_KEYS)
    if unrecorded:
        log.warning("%s: the checkpoint does not record %s; using the config's values", path,
                    ", ".join(f"model.{k}={current[k]!r}" for k in unrecorded))
    return {**current, **saved}, differ


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
    """Rebuild the checkpoint's model and load its weights into it (eval mode).

    Args:
        model_cfg: a `ModelConfig` (cfg.model): execution switches (`EXECUTION_KEYS`), and the
            whole model for checkpoints without saved hyperparameters; other keys that differ
            from the checkpoint's are named in a warning and ignored.
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
    ckpt = read_checkpoint(path)
    state = _model_state(ckpt, path)
    rebuilt, _ = checkpoint_model_config(ckpt, model_cfg, path)
    model = build_model(OmegaConf.create(rebuilt), src_vocab_size, tgt_vocab_size)
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
        prepared_data=(ckpt.get(FINGERPRINT_KEY) or {}).get("prepared_data"), model=rebuilt,
    )
    return model.to(device).eval(), info
