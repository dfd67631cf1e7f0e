"""The resume fingerprint of an unchanged config does not move when the schema's types do.

A finished model is continued only when its `resume_fingerprint` matches (training/resume.py);
any other is set aside and trained again. Typing the choice keys as Enums must therefore leave
every digest of the demo configs as it was when they were plain strings: the pins below were
computed before that change. A pin that fails means every finished demo model of that experiment
would be set aside by the next `dvc repro`: update it only for a change meant to retrain.
The data pins moved once since, with the training key `data.pieces_per_word`, in the same change
as training code (so the demo models retrained once for both).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from rnnsearch.training.fit import run
from rnnsearch.training.resume import training_fingerprint

Compose = Callable[..., DictConfig]
CONFIG_PARTS = ("model", "optim", "data", "seed")  # the code and the prepared data aside
DEMO_PINS = {
    "rnnencdec_30": ("563d2ffeb4c66733", "c328799f32c9e126", "369e45adf47bf733",
                     "03ac674216f3e15c"),
    "rnnencdec_50": ("563d2ffeb4c66733", "c328799f32c9e126", "b8cff7f32734c316",
                     "03ac674216f3e15c"),
    "rnnsearch_30": ("6c6898c0d086217a", "c328799f32c9e126", "369e45adf47bf733",
                     "03ac674216f3e15c"),
    "rnnsearch_50": ("6c6898c0d086217a", "c328799f32c9e126", "b8cff7f32734c316",
                     "03ac674216f3e15c"),
}


@pytest.mark.parametrize("experiment", sorted(DEMO_PINS))
def test_demo_fingerprint_is_pinned(compose_cfg: Compose, experiment: str) -> None:
    fingerprint = training_fingerprint(compose_cfg(f"experiment={experiment}", "scale=demo"))
    assert tuple(fingerprint[part] for part in CONFIG_PARTS) == DEMO_PINS[experiment]


@pytest.mark.parametrize("scale", ["demo", "paper", "tiny"])
def test_typed_config_digests_and_saves_as_its_strings(compose_cfg: Compose, scale: str) -> None:
    """The same config without its schema (every choice key a plain str, as before the Enums)
    gives the same fingerprint and the same config.yaml."""
    typed = compose_cfg("experiment=rnnsearch_30", f"scale={scale}")
    plain = OmegaConf.create(OmegaConf.to_container(typed, enum_to_str=True))
    assert isinstance(typed.optim.lr_decay, Enum) and type(plain.optim.lr_decay) is str
    assert training_fingerprint(typed) == training_fingerprint(plain)
    assert OmegaConf.to_yaml(typed, resolve=True) == OmegaConf.to_yaml(plain, resolve=True)


def test_checkpoints_hold_choice_keys_as_plain_strings(train_cfg: Compose,
                                                       tmp_path: Path) -> None:
    """Checkpoints are read with torch.load(weights_only=True), which refuses an Enum."""
    run(train_cfg("experiment=rnnsearch_30", "trainer.max_steps=2", root=tmp_path))
    ckpt = torch.load(tmp_path / "artifacts/models/rnnsearch_30/last.ckpt", weights_only=True)
    hparams = ckpt["hyper_parameters"]
    saved = [hparams["model_cfg"]["readout_state"], hparams["optim_cfg"]["lr_decay"],
             hparams["length_rule"]]
    assert [type(value) for value in saved] == [str, str, str]
