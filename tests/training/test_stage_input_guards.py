"""Bad stage inputs stop translate, evaluate and train with one line, before anything is written.

A damaged checkpoint, prepared data other than the checkpoint was trained on, a runaway dev line
and an out-of-range config value each name the file (and line) or key; the output directories
stay empty. The subprocess tests run the real entry points, as a user does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from rnnsearch.data.guards import prepared_data_hash
from rnnsearch.data.parallel_files import DataError, load_split
from rnnsearch.data.vocab import Vocabulary
from rnnsearch.decoding.settings import DecodeSettings
from rnnsearch.evaluation import evaluate_stage, translate_stage
from rnnsearch.evaluation.checkpoint import load_model
from rnnsearch.models import build_model
from rnnsearch.training.fit import run as train
from rnnsearch.training.resume import FINGERPRINT_KEY

pytestmark = pytest.mark.timeout(600)  # an entry point's subprocess may take 300 s

Compose = Callable[..., DictConfig]


def _run(module: str, *overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *overrides], cwd=cwd, text=True,
                          capture_output=True, env={**os.environ, "WANDB_MODE": "offline"},
                          timeout=300)


def _one_error_line(proc: subprocess.CompletedProcess, module: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{module}: error: ")
    return lines[0]


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _save_checkpoint(path: Path, cfg: DictConfig, prepared: Path, trained_on: str | None) -> None:
    """A checkpoint as TranslationModule writes it, recording `trained_on` as its data hash."""
    sizes = [len(Vocabulary.load(prepared / f"vocab.{lang}.txt")) for lang in ("en", "fr")]
    model = build_model(cfg.model, *sizes)
    ckpt = {"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "global_step": 6, "epoch": 0}
    if trained_on is not None:
        ckpt[FINGERPRINT_KEY] = {"prepared_data": trained_on}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)


def test_out_of_range_value_is_one_line_naming_the_key(tmp_path: Path) -> None:
    """Checked after composition, before the stage reads anything (the prepared dir is absent)."""
    proc = _run("rnnsearch.translate", "decode.beam_size=0",
                f"data.prepared_dir={tmp_path / 'none'}", f"paths.root_dir={tmp_path}",
                cwd=tmp_path)
    line = _one_error_line(proc, "rnnsearch.translate")
    assert line.endswith(": error: decode.beam_size=0 is out of range: must be >= 1")
    assert not (tmp_path / "artifacts" / "translations").exists()


def test_damaged_checkpoint_is_one_line_naming_it(tmp_path: Path, prepared_dir: Path,
                                                  train_cfg: Compose) -> None:
    model_dir = tmp_path / "m"
    best = model_dir / "best.ckpt"
    _save_checkpoint(best, train_cfg(), prepared_dir, None)
    best.write_bytes(b"not a torch file at all\n" * 20)
    out = tmp_path / "out"
    proc = _run("rnnsearch.translate", f"data.prepared_dir={prepared_dir}",
                f"paths.model_dir={model_dir}", f"paths.translation_dir={out}",
                f"paths.root_dir={tmp_path}", "logger=none", cwd=tmp_path)
    line = _one_error_line(proc, "rnnsearch.translate")
    assert f"{best}: damaged or not a checkpoint" in line
    assert _files(out) == []


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_truncated_or_empty_checkpoint_names_the_file(tmp_path: Path, prepared_dir: Path,
                                                      train_cfg: Compose, damage: str) -> None:
    cfg = train_cfg()
    best = tmp_path / "best.ckpt"
    _save_checkpoint(best, cfg, prepared_dir, None)
    data = best.read_bytes()
    best.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    with pytest.raises(ValueError) as err:
        load_model(cfg.model, best, "v.en", "v.fr", 24, 24)
    assert str(err.value).startswith(f"{best}: damaged or not a checkpoint (")
    assert "\n" not in str(err.value)


def _other_prepared(prepared_dir: Path, root: Path) -> Path:
    """A copy of the prepared data with one target word renamed: same sizes, other words."""
    other = root / "prepared_other" / prepared_dir.name
    shutil.copytree(prepared_dir, other)
    vocab = other / "vocab.fr.txt"
    vocab.write_text(vocab.read_text(encoding="utf-8").replace("m7\n", "m7x\n"), encoding="utf-8")
    return other


def test_translate_refuses_data_the_checkpoint_was_not_trained_on(
        tmp_path: Path, prepared_dir: Path, train_cfg: Compose) -> None:
    other = _other_prepared(prepared_dir, tmp_path)
    cfg = train_cfg(f"data.prepared_dir={other}", "experiment=rnnsearch_30")
    best = Path(cfg.paths.model_dir) / "best.ckpt"
    trained_on = prepared_data_hash(prepared_dir)
    _save_checkpoint(best, cfg, prepared_dir, trained_on)
    with pytest.raises(ValueError) as err:
        translate_stage.run(cfg, DecodeSettings.from_config(cfg.decode))
    msg = str(err.value)
    assert "\n" not in msg and str(best) in msg and str(other) in msg
    assert trained_on in msg and prepared_data_hash(other) in msg
    assert _files(Path(cfg.paths.translation_dir)) == []
    _save_checkpoint(best, cfg, prepared_dir, prepared_data_hash(other))  # the matching data
    summary = translate_stage.run(cfg, DecodeSettings.from_config(cfg.decode))
    assert summary["checkpoint"]["prepared_data"] == prepared_data_hash(other)


def test_evaluate_refuses_translations_from_other_prepared_data(
        tmp_path: Path, prepared_dir: Path, train_cfg: Compose) -> None:
    cfg = train_cfg(f"data.prepared_dir={prepared_dir}")
    trans = Path(cfg.paths.translation_dir)
    trans.mkdir(parents=True)
    (trans / "translate.json").write_text(json.dumps(
        {"checkpoint": {"path": "m/best.ckpt", "prepared_data": "0123456789abcdef"}}))
    with pytest.raises(ValueError, match=r"^m/best\.ckpt was trained on prepared data "
                                         r"0123456789abcdef but ") as err:
        evaluate_stage.run(cfg)
    assert str(prepared_dir) in str(err.value) and "\n" not in str(err.value)
    assert not Path(cfg.paths.reports_dir).exists()


def test_runaway_dev_line_stops_training_before_it_starts(
        tmp_path: Path, prepared_dir: Path, train_cfg: Compose) -> None:
    dev = load_split(prepared_dir, "dev")
    limit = sorted(len(s) for s in dev.src)[len(dev) // 2]  # some dev sentences are longer
    first_long = next(i for i, s in enumerate(dev.src) if len(s) > limit)
    cfg = train_cfg(f"data.dev_max_len={limit}")
    with pytest.raises(DataError) as err:
        train(cfg)
    where = f"{prepared_dir / 'dev.en.tok'}:{first_long + 1}: {len(dev.src[first_long])} tokens"
    assert str(err.value).startswith(where) and "data.dev_max_len" in str(err.value)
    assert _files(Path(cfg.paths.model_dir)) == []
