"""Fixtures of the data-layer tests: a tiny generated corpus and helpers for raw input files
(the local HTTP server, `http_dir`, is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

TINY_EMBEDDED = [
    "data=embedded",
    "data.vocab_size=300",
    "data.embedded.n_train=600",
    "data.embedded.n_dev=40",
    "data.embedded.n_test=70",  # 10 per length bucket
    "data.embedded.lexicon_size=400",
]


@pytest.fixture
def tiny_cfg(compose_cfg: Callable[..., DictConfig]) -> Callable[..., DictConfig]:
    """Compose the tiny embedded-corpus config (all paths under tmp_path) plus overrides."""

    def _make(*overrides: str) -> DictConfig:
        return compose_cfg(*TINY_EMBEDDED, *overrides)

    return _make


@pytest.fixture
def write_raw() -> Callable[..., Path]:
    """Write raw split files: write_raw(dir, {"train.en": "text" | b"bytes", ...})."""

    def _write(raw_dir: Path, files: dict[str, str | bytes]) -> Path:
        raw_dir.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (raw_dir / name).write_bytes(data)
        return raw_dir

    return _write
