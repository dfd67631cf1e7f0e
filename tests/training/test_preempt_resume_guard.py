"""resume=auto: continue only a last.ckpt of the same run; set any other aside, never delete it.

A rerun after a kill (what `dvc repro` does, the model dir being `persist: true`) must not lose
the updates done, and must never continue weights trained under another config or other data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from rnnsearch.config import (
    DATA_PREPARED_KEYS,
    DATA_RUNTIME_KEYS,
    DATA_TRAINING_KEYS,
    MODEL_EXECUTION_KEYS,
    MODEL_IDENTITY_KEYS,
    MODEL_INIT_KEYS,
)
from rnnsearch.training.fit import run
from rnnsearch.training.resume import FINGERPRINT_KEY, resume_checkpoint, training_fingerprint

Compose = Callable[..., DictConfig]
SHORT = ("trainer.max_steps=6", "experiment=rnnsearch_30")


def _model_dir(root: Path) -> Path:
    return root / "artifacts" / "models" / "rnnsearch_30"


def _step(path: Path) -> int:
    return int(torch.load(path, weights_only=True)["global_step"])


def test_finished_run_is_resumed_not_retrained_and_longer_budget_continues(
        train_cfg: Compose, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run(train_cfg(*SHORT, root=tmp_path))
    with caplog.at_level(logging.INFO, logger="rnnsearch.training.resume"):
        again = run(train_cfg(*SHORT, root=tmp_path))  # e.g. `dvc repro -f`: nothing to redo
        longer = run(train_cfg("trainer.max_steps=9", "experiment=rnnsearch_30", root=tmp_path))
    assert again["updates"] == 6 and longer["updates"] == 9
    resumed = [m for m in caplog.messages if m.startswith("resuming from")]
    assert [m.rsplit("(", 1)[1] for m in resumed] == ["update 6)", "update 6)"]
    assert (tmp_path / "reports/curves/rnnsearch_30.csv").is_file()
    assert not list(_model_dir(tmp_path).parent.glob("*.set-aside-*"))


@pytest.mark.parametrize("change", ["model.hidden_dim=12", "seed=7", "optim.optimizer.eps=1e-5",
                                    "data.batch_size=4"])
def test_incompatible_checkpoint_is_set_aside_with_one_line(
        train_cfg: Compose, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        change: str) -> None:
    run(train_cfg(*SHORT, root=tmp_path))
    model_dir = _model_dir(tmp_path)
    old = torch.load(model_dir / "last.ckpt", weights_only=True)
    with caplog.at_level(logging.WARNING, logger="rnnsearch.training.resume"):
        summary = run(train_cfg(*SHORT, change, root=tmp_path))
    assert summary["updates"] == 6
    (aside,) = model_dir.parent.glob("rnnsearch_30.set-aside-*")
    group = change.split("=")[0].split(".")[0]
    (line,) = [m for m in caplog.messages if "not resumed" in m]
    assert "\n" not in line
    assert line.startswith(f"{model_dir / 'last.ckpt'} (update 6) not resumed (different ")
    assert group in line and f"moved to {aside}; training from update 0" in line
    kept = torch.load(aside / "last.ckpt", weights_only=True)  # intact, not deleted
    assert kept[FINGERPRINT_KEY] == old[FINGERPRINT_KEY]
    assert {p.name for p in aside.iterdir()} >= {"last.ckpt", "best.ckpt", "summary.json"}
    new = torch.load(model_dir / "last.ckpt", weights_only=True)
    assert new[FINGERPRINT_KEY][group] != old[FINGERPRINT_KEY][group]


def test_changed_prepared_data_is_not_resumed(train_cfg: Compose, compose_cfg: Callable,
                                              tmp_path: Path, prepared_dir: Path) -> None:
    cfg = train_cfg(*SHORT, root=tmp_path)
    fingerprint = training_fingerprint(cfg)
    other = tmp_path / "other_prepared"
    other.mkdir()
    for f in prepared_dir.iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    (other / "stats.json").write_text("{}")  # run facts: ignored
    moved = training_fingerprint(compose_cfg(f"data.prepared_dir={other}", *SHORT))
    assert moved["prepared_data"] == fingerprint["prepared_data"]
    (other / "vocab.fr.txt").write_text((other / "vocab.fr.txt").read_text() + "extra\n")
    changed = training_fingerprint(compose_cfg(f"data.prepared_dir={other}", *SHORT))
    assert changed["prepared_data"] != fingerprint["prepared_data"]


def test_explicit_modes(train_cfg: Compose, tmp_path: Path) -> None:
    cfg = train_cfg(*SHORT, root=tmp_path)
    model_dir, fingerprint = _model_dir(tmp_path), training_fingerprint(cfg)
    with pytest.raises(FileNotFoundError, match="resume=true but .*last.ckpt does not exist"):
        resume_checkpoint(model_dir, fingerprint, True)
    run(cfg)
    last = model_dir / "last.ckpt"
    assert resume_checkpoint(model_dir, fingerprint, True) == last
    assert resume_checkpoint(model_dir, fingerprint, "auto") == last
    other = {**fingerprint, "code": "0" * 16}
    with pytest.raises(ValueError, match=r"resume=true but .*last.ckpt \(update 6\) does not match "
                                         r"this run: different code;"):
        resume_checkpoint(model_dir, other, True)
    assert last.is_file()  # an explicit resume=true never moves anything
    assert resume_checkpoint(model_dir, fingerprint, False) is None  # start over: set aside
    assert not last.exists() and len(list(model_dir.parent.glob("*.set-aside-*"))) == 1


def test_damaged_checkpoint_is_set_aside(train_cfg: Compose, tmp_path: Path) -> None:
    cfg = train_cfg(*SHORT, root=tmp_path)
    model_dir = _model_dir(tmp_path)
    model_dir.mkdir(parents=True)
    (model_dir / "last.ckpt").write_bytes(b"not a checkpoint")
    assert resume_checkpoint(model_dir, training_fingerprint(cfg), "auto") is None
    (aside,) = model_dir.parent.glob("rnnsearch_30.set-aside-*")
    assert (aside / "last.ckpt").read_bytes() == b"not a checkpoint"


def test_an_execution_switch_may_change_on_resume(train_cfg: Compose, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Speed switches compute the same function: a run continues across a flip of one."""
    run(train_cfg(*SHORT, "model.scan_backward=true", root=tmp_path))
    with caplog.at_level(logging.INFO, logger="rnnsearch.training.resume"):
        longer = run(train_cfg("trainer.max_steps=8", "experiment=rnnsearch_30",
                               "model.scan_backward=false", root=tmp_path))
    assert longer["updates"] == 8
    assert any(m.startswith("resuming from") and m.endswith("(update 6)")
               for m in caplog.messages)
    assert not list(_model_dir(tmp_path).parent.glob("*.set-aside-*"))


@pytest.mark.parametrize("flip", sorted(MODEL_EXECUTION_KEYS | MODEL_IDENTITY_KEYS
                                        | MODEL_INIT_KEYS))
def test_only_execution_switches_leave_the_model_fingerprint(train_cfg: Compose,
                                                             flip: str) -> None:
    cfg = train_cfg(*SHORT)
    changed = cfg.copy()
    old = changed.model[flip]
    changed.model[flip] = (not old if isinstance(old, bool) else
                           old + 1 if isinstance(old, (int, float)) else
                           next(v for v in type(old) if v != old) if isinstance(old, Enum) else
                           620 if old is None else f"{old}_other")  # None: output_rank
    same = training_fingerprint(cfg)["model"] == training_fingerprint(changed)["model"]
    assert same == (flip in MODEL_EXECUTION_KEYS)


def _flipped(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, dict):
        return {**value, "extra": 1}
    return "other" if value is None else f"{value}_other"


@pytest.mark.parametrize("flip", sorted(DATA_TRAINING_KEYS | DATA_PREPARED_KEYS
                                        | DATA_RUNTIME_KEYS))
def test_only_training_data_keys_enter_the_fingerprint(train_cfg: Compose, flip: str) -> None:
    """An unused corpus key (data.wmt14.*, vocab settings, paths) keeps last.ckpt resumable:
    the prepared data it acts through is hashed by content, separately."""
    from omegaconf import OmegaConf

    cfg = train_cfg(*SHORT)
    changed = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))  # untyped: any value
    changed.data[flip] = _flipped(changed.data[flip])
    same = training_fingerprint(cfg)["data"] == training_fingerprint(changed)["data"]
    assert same == (flip not in DATA_TRAINING_KEYS)
