"""A typo in a choice key fails when the config is composed, before anything is written or moved;
a broken cross-key rule fails right after, also before.

Each key with a fixed set of values is typed by an Enum in its schema, so Hydra rejects a value
outside it with the allowed values. The regression: `python -m rnnsearch.train
experiment=rnnsearch_30 optim.lr_decay=cosin` moved the finished model directory aside (the
optim config, hence the resume fingerprint, differed) and only then failed.
The keys and values are written out here, not read from the schema, so that a key typed `str`
again fails the first test.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import typing
from enum import Enum
from pathlib import Path

import pytest
from tests.conftest import TINY, compose_config

from rnnsearch import config
from rnnsearch.cli import user_errors_exit
from rnnsearch.train import ENTRY
from rnnsearch.train import main as train_main
from rnnsearch.training.fit import run

CHOICE_KEYS: dict[str, tuple[str, ...]] = {
    "data.batch_order": ("groundhog", "shuffled"),
    "data.invalid_utf8": ("error", "replace"),
    "data.vocab_count": ("all_lines", "kept_pairs"),
    "data.units": ("word", "bpe"),
    "model.encoder_cell": ("paper", "cudnn"),
    "model.readout_state": ("groundhog", "current", "previous"),
    "model.encdec_context": ("last_state", "tanh_layer"),
    "optim.nonfinite": ("stop", "shrink"),
    "optim.loss_scale": ("sum", "sentence", "token"),
    "optim.lr_decay": ("none", "cosine"),
    "decode.length_rule": ("groundhog", "ratio"),
    "decode.fallback": ("none", "groundhog"),
    "logger.kind": ("wandb", "csv", "none"),
}
SCHEMAS = {"data": config.DataConfig, "model": config.ModelConfig, "optim": config.OptimConfig,
           "decode": config.DecodeConfig, "logger": config.LoggerConfig}
TRAIN = ("experiment=rnnsearch_30", "trainer.max_steps=4", "trainer.val_check_interval=4",
         "trainer.checkpoint_every_n_steps=2")


def _field_type(key: str) -> typing.Any:
    group, name = key.split(".")
    return typing.get_type_hints(SCHEMAS[group]).get(name)


KEYS = list(CHOICE_KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_choice_key_is_an_enum_of_its_values(key: str) -> None:
    kind = _field_type(key)
    assert isinstance(kind, type) and issubclass(kind, Enum), f"{key} is typed {kind}"
    assert tuple(m.value for m in kind) == CHOICE_KEYS[key]
    # OmegaConf reads and writes a member by name: the name must be the string it stands for
    assert all(m.name == m.value and isinstance(m, str) for m in kind)


def test_no_other_key_is_an_enum() -> None:
    hints = {f"{group}.{name}": kind for group, schema in SCHEMAS.items()
             for name, kind in typing.get_type_hints(schema).items()}
    typed = {key for key, kind in hints.items()
             if isinstance(kind, type) and issubclass(kind, Enum)}
    assert typed <= set(CHOICE_KEYS)


def _snapshot(model_dir: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under the model dir and its siblings: size, mtime, content hash."""
    return {str(p.relative_to(model_dir.parent)): (p.stat().st_size, p.stat().st_mtime_ns,
                                                     hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(model_dir.parent.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, prepared_dir: Path
            ) -> tuple[tuple[str, ...], Path]:
    """A finished tiny rnnsearch_30 model: (the overrides it was trained with, its model dir)."""
    root = tmp_path_factory.mktemp("root")
    overrides = (f"paths.root_dir={root}", f"data.prepared_dir={prepared_dir}", "logger=csv",
                 *TINY, *TRAIN)
    run(compose_config(root, *overrides))
    model_dir = root / "artifacts" / "models" / "rnnsearch_30"
    assert (model_dir / "last.ckpt").is_file()
    return overrides, model_dir


def _train(overrides: tuple[str, ...], root: Path) -> None:
    """`python -m rnnsearch.train <overrides>` in this process: compose as `run_entry` does,
    then the entry's own task function (what `@hydra.main` wraps)."""
    with user_errors_exit(ENTRY):
        cfg = compose_config(root, *overrides)
    train_main.__wrapped__(cfg)


@pytest.mark.parametrize("key", KEYS)
def test_typo_fails_at_compose_and_leaves_the_model_dir_untouched(
        trained: tuple[tuple[str, ...], Path], key: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    overrides, model_dir = trained
    allowed = CHOICE_KEYS[key]
    before = _snapshot(model_dir)
    with pytest.raises(SystemExit) as exited:  # a typo: "cosine" -> "cosin"
        _train((*overrides, f"{key}={allowed[0][:-1]}"), model_dir.parents[2])
    assert exited.value.code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{ENTRY}: error: "), lines
    assert key in lines[0] and f"expected one of [{', '.join(allowed)}]" in lines[0], lines[0]
    assert _snapshot(model_dir) == before  # nothing set aside, written or touched
    assert not list(model_dir.parent.glob("*.set-aside-*"))


def test_a_typo_on_the_command_line_leaves_a_finished_model_untouched(
        trained: tuple[tuple[str, ...], Path]) -> None:
    """`optim.lr_decay=cosin` in a new process: one line, and the model dir as it was."""
    overrides, model_dir = trained
    before = _snapshot(model_dir)
    proc = subprocess.run([sys.executable, "-m", "rnnsearch.train", *overrides,
                           "optim.lr_decay=cosin"], cwd=model_dir.parent, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "WANDB_MODE": "offline"})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0] == (f"{ENTRY}: error: Error merging override optim.lr_decay=cosin: "
                        "Invalid value 'cosin', expected one of [none, cosine]")
    assert _snapshot(model_dir) == before


@pytest.mark.parametrize(("change", "needle"), [
    ("trainer.max_steps=-1", "optim.lr_decay=cosine needs an update budget"),  # demo: cosine
    ("model.bidirectional=false", "model.attention=true needs model.bidirectional=true"),
])
def test_a_broken_cross_key_rule_leaves_the_model_dir_untouched(
        trained: tuple[tuple[str, ...], Path], change: str, needle: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    overrides, model_dir = trained
    before = _snapshot(model_dir)
    with pytest.raises(SystemExit):
        _train((*overrides, change), model_dir.parents[2])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{ENTRY}: error: {needle}"), lines
    assert _snapshot(model_dir) == before
