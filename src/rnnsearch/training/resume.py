"""Resume compatibility (ours): what a checkpoint was trained from, and whether it may continue.

Every checkpoint records its `training_fingerprint` (model, optim and data config, seed,
prepared data, training code; written by `checkpointing.ResumeStamp`); `resume_checkpoint`
resumes only from a matching last.ckpt and sets any other aside (DVC reruns the stage).
No Lightning here: plain files, config and hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from rnnsearch.config import DATA_TRAINING_KEYS, MODEL_EXECUTION_KEYS
from rnnsearch.data.guards import FINGERPRINT_KEY, prepared_data_hash
from rnnsearch.file_hash import update_from_file

log = logging.getLogger(__name__)

# Source files whose change alters training numerics or data order (a rerun must not continue).
# trainer.py sets the gradient clipping and precision of every update, budget.py the schedule;
# dev_bleu.py is the validation BLEU that lit_module.py runs (its curve is part of a finished
# run's record).
_TRAINING_CODE = ("models", "training/lit_module.py", "training/dev_bleu.py",
                  "training/datamodule.py", "training/trainer.py", "training/budget.py",
                  "data/batching.py")


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def training_code_hash() -> str:
    """Hash of the training code (`_TRAINING_CODE`): the model, loss, data order and batching."""
    pkg = Path(__file__).resolve().parents[1]  # src/rnnsearch
    h = hashlib.sha256()
    for name in _TRAINING_CODE:
        files = sorted((pkg / name).rglob("*.py")) if (pkg / name).is_dir() else [pkg / name]
        for f in files:
            h.update(str(f.relative_to(pkg)).encode() + b"\0")
            update_from_file(h, f)
    return h.hexdigest()[:16]


def training_fingerprint(cfg: DictConfig) -> dict[str, str]:
    """What a checkpoint must match to be resumed: model/optim/data config, seed, data, code.

    The trainer config is left out on purpose: a larger `max_steps` or another device continues
    the same run. So are the model's execution switches (`config.MODEL_EXECUTION_KEYS`): each
    computes the same function as its reference path (tests/models), so a resume may turn one
    on or off. Of the data config only `config.DATA_TRAINING_KEYS` count: the other keys act
    through the prepared data, hashed by content, or are locations and speed settings.
    """
    def plain(node: Any) -> Any:  # choice keys (config.py Enums) as the strings they were
        return OmegaConf.to_container(node, resolve=True, enum_to_str=True)

    data = {key: cfg.data[key] for key in sorted(DATA_TRAINING_KEYS)}  # an Enum: JSON's string
    model = {k: v for k, v in plain(cfg.model).items() if k not in MODEL_EXECUTION_KEYS}
    return {"model": _digest(model), "optim": _digest(plain(cfg.optim)),
            "data": _digest(data), "seed": _digest(cfg.seed),
            "prepared_data": prepared_data_hash(Path(cfg.data.prepared_dir)),
            "code": training_code_hash()}


def _stored_fingerprint(path: Path) -> tuple[dict[str, str] | None, int]:
    """(fingerprint or None, global step) of a checkpoint; (None, -1) if it cannot be read."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 -- a damaged file is set aside like an incompatible one
        return None, -1
    return ckpt.get(FINGERPRINT_KEY), int(ckpt.get("global_step", -1))


def stored_step(path: Path) -> int:
    """The update a checkpoint was saved at (-1 if it cannot be read)."""
    return _stored_fingerprint(path)[1]


def set_aside(model_dir: Path) -> Path:
    """Move a model dir's training files into a new sibling `<name>.set-aside-<time>`.

    Hydra's own files (.hydra/, *.log, .submitit/) stay; nothing is deleted.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = model_dir.with_name(f"{model_dir.name}.set-aside-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = model_dir.with_name(f"{model_dir.name}.set-aside-{stamp}-{n}")
    dest.mkdir(parents=True)
    for entry in sorted(model_dir.iterdir()):
        if entry.name not in (".hydra", ".submitit") and entry.suffix != ".log":
            os.replace(entry, dest / entry.name)
    return dest


def resume_checkpoint(model_dir: Path, fingerprint: dict[str, str], mode: Any,
                      is_rank_zero: bool = True) -> Path | None:
    """Decide where training starts: the checkpoint to resume from, or None for update 0.

    Args:
        model_dir: the run's model directory (last.ckpt lives there).
        fingerprint: this run's `training_fingerprint`.
        mode: `resume` from the config: "auto" (resume a matching last.ckpt, set any other
            aside), true (last.ckpt must exist and match) or false (start over; an existing
            last.ckpt is set aside); checked when the config is composed (config_checks).
        is_rank_zero: only rank 0 moves files.

    Raises:
        ValueError: resume=true with a checkpoint that does not match.
        FileNotFoundError: resume=true without last.ckpt.
    """
    last = model_dir / "last.ckpt"
    if not last.is_file():
        if mode is True:
            raise FileNotFoundError(f"resume=true but {last} does not exist; train without resume")
        return None
    stored, step = _stored_fingerprint(last)
    if stored is None:
        differs = ["fingerprint (unreadable file or none stored)"]
    else:
        differs = sorted(k for k in fingerprint if stored.get(k) != fingerprint[k])
    if not differs and mode is not False:
        log.info("resuming from %s (update %d)", last, step)
        return last
    what = "resume=false" if not differs else "different " + ", ".join(differs)
    if mode is True:
        raise ValueError(f"resume=true but {last} (update {step}) does not match this run: {what}; "
                         "use the matching config or resume=auto to set it aside")
    if is_rank_zero:
        dest = set_aside(model_dir)
        log.warning("%s (update %d) not resumed (%s): moved to %s; training from update 0",
                    last, step, what, dest)
    return None
