"""The self-contained model directory: what training writes beside the checkpoints so that the
directory alone translates (copied to another machine, without the prepared data).

Files: both vocabularies (`vocab.<lang>.txt`, copied from the prepared data), with
`data.units: bpe` both sentencepiece models (`spm.<lang>.model`, the same), `tokenizer.json`
(languages and the Moses settings `prepare` used: sacremoses, escape=False, line separators to
spaces, no lowercasing) and `config.yaml` (the resolved config: model, data and decode).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnsearch.data.subwords import BPE, model_name
from rnnsearch.io_utils import atomic_path, atomic_write_json

TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class TokenizerSettings:
    """How `prepare` turned raw text into tokens (rnnsearch.data.moses)."""

    src_lang: str
    tgt_lang: str
    tokenizer: str = "sacremoses"
    escape: bool = False  # Moses XML escapes off: `&`, `'` and `"` stay literal
    lowercase: bool = False
    clean: str = "line separators to spaces, whitespace stripped"


def vocab_names(src_lang: str, tgt_lang: str) -> tuple[str, str]:
    """File names of the two vocabularies, as in the prepared directory."""
    return f"vocab.{src_lang}.txt", f"vocab.{tgt_lang}.txt"


def subword_names(cfg: Any) -> tuple[str, ...]:
    """File names of the sentencepiece models (`data.units: bpe`); none for words."""
    if cfg.data.get("units", "word") != BPE:
        return ()
    return model_name(cfg.data.src_lang), model_name(cfg.data.tgt_lang)


def write_model_files(cfg: DictConfig, model_dir: Path) -> None:
    """Copy the vocabularies (and sentencepiece models) from the prepared data and write
    tokenizer.json into model_dir."""
    prepared, langs = Path(cfg.data.prepared_dir), (cfg.data.src_lang, cfg.data.tgt_lang)
    for name in (*vocab_names(*langs), *subword_names(cfg)):
        with atomic_path(model_dir / name) as tmp:
            shutil.copyfile(prepared / name, tmp)
    atomic_write_json(model_dir / TOKENIZER_FILE, asdict(TokenizerSettings(*langs)))


@dataclass(frozen=True)
class ModelFiles:
    """What a model directory holds for translation."""

    root: Path
    config: Any  # the resolved training config (DictConfig)
    tokenizer: TokenizerSettings
    src_vocab: Path
    tgt_vocab: Path
    subword_models: tuple[Path, ...] = ()  # source and target sentencepiece models (bpe)


def read_model_dir(model_dir: str | Path) -> ModelFiles:
    """The translation files of a model directory.

    Raises:
        FileNotFoundError: one line naming the missing files and how to add them.
    """
    root = Path(model_dir)
    config_path = root / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: not a model directory "
                                "(train one with `python -m rnnsearch.train experiment=<id>`)")
    cfg = OmegaConf.load(config_path)
    langs = (cfg.data.src_lang, cfg.data.tgt_lang)
    names = [*vocab_names(*langs), TOKENIZER_FILE]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"model directory {root} lacks {', '.join(missing)} (trained before model "
            f"directories were self-contained); add them from its prepared data with "
            f"`python -c \"from rnnsearch.inference.model_dir import add_model_files; "
            f"add_model_files('{root}', '{cfg.data.prepared_dir}')\"`")
    for name in subword_names(cfg):
        if not (root / name).is_file():
            raise FileNotFoundError(
                f"{root / name}: sentencepiece model not found (the model was trained with "
                f"data.units=bpe); copy it from its prepared data ({cfg.data.prepared_dir})")
    tok = TokenizerSettings(**json.loads((root / TOKENIZER_FILE).read_text(encoding="utf-8")))
    return ModelFiles(root, cfg, tok, root / names[0], root / names[1],
                      tuple(root / n for n in subword_names(cfg)))


def add_model_files(model_dir: str | Path, prepared_dir: str | Path) -> None:
    """Add the translation files to a model directory trained before they were written."""
    cfg = OmegaConf.load(Path(model_dir) / "config.yaml")
    cfg.data.prepared_dir = str(prepared_dir)
    write_model_files(cfg, Path(model_dir))
