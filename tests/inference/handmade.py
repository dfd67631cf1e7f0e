"""A hand-made model directory, as training writes it, for the in-process inference tests.

config.yaml, both vocabularies, tokenizer.json and a best.ckpt whose random weights are made far
from uniform (std 0.5; PAD and BOS never emitted), so every search choice is clear-cut and [UNK]
is common (the [UNK] options have something to act on). Writing one takes about a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from tests.conftest import TINY_MODEL, compose_config
from torch import nn

from rnnsearch.data.vocab import BOS_ID, PAD_ID, SPECIALS, Vocabulary
from rnnsearch.inference.model_dir import write_model_files
from rnnsearch.inference.translator import Translator
from rnnsearch.models import build_model

EN = ["the", "house", "is", "small", ".", "a", "big", "red", "car", "cat"]
FR = ["la", "maison", "est", "petite", ".", "une", "grande", "rouge", "voiture", "chat"]
LINES = ["the house is small .", "", "a big red car", "the cat"]
DECODE = ("decode.beam_size=3", "decode.ignore_unk=false", "decode.replace_unk=false",
          "decode.length_rule=groundhog")  # EOS only after (|x| + 1) // 2 words: none is empty


def compose(root: Path, experiment: str, *overrides: str) -> DictConfig:
    """The config of `experiment` at the tiny size, its outputs under `root`."""
    return compose_config(root, *TINY_MODEL, f"experiment={experiment}", "trainer.accelerator=cpu",
                          f"data.prepared_dir={root / 'prepared'}", *DECODE, *overrides)


def write_model_dir(root: Path, experiment: str, seed: int) -> None:
    """config.yaml, vocabularies, tokenizer.json and a best.ckpt of random, peaked weights."""
    for lang, words in (("en", EN), ("fr", FR)):
        Vocabulary([*SPECIALS, *words]).save(root / "prepared" / f"vocab.{lang}.txt")
    cfg = compose(root, experiment)
    model_dir = Path(cfg.paths.model_dir)
    model_dir.mkdir(parents=True)
    write_model_files(cfg, model_dir)
    OmegaConf.save(cfg, model_dir / "config.yaml", resolve=True)
    torch.manual_seed(seed)
    model = build_model(cfg.model, len(SPECIALS) + len(EN), len(SPECIALS) + len(FR))
    with torch.no_grad():
        for param in model.parameters():
            nn.init.normal_(param, std=0.5)
        model.decoder.readout.W_o.bias[[PAD_ID, BOS_ID]] -= 10.0  # never emitted once trained
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "hyper_parameters": {
                    "model_cfg": OmegaConf.to_container(cfg.model, enum_to_str=True)}},
               model_dir / "best.ckpt")


def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{experiment: root} of an RNNsearch and an RNNencdec model directory."""
    out = {}
    for experiment, seed in (("rnnsearch_30", 0), ("rnnencdec_30", 1)):
        out[experiment] = tmp_path_factory.mktemp(experiment)
        write_model_dir(out[experiment], experiment, seed)
    return out


def translator(root: Path, experiment: str) -> Translator:
    """The Python API on the model directory under `root`."""
    return Translator.from_dir(root / "artifacts" / "models" / experiment)


