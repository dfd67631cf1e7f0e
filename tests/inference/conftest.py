"""Fixtures of the translate tests: the tiny model of tiny_model.py, trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.inference.tiny_model import EXP, cfg_for

from rnnsearch import generate, prepare, train, translate


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """generate -> prepare -> train (300 updates) -> translate the test split."""
    root = tmp_path_factory.mktemp("text")
    generate.run(cfg_for(root))
    prepare.run(cfg_for(root))
    train.run(cfg_for(root))
    translate.run(cfg_for(root))
    return root


@pytest.fixture(scope="session")
def model_dir(trained: Path) -> Path:
    """The trained model's directory (what `Translator.from_dir` reads)."""
    return trained / "artifacts" / "models" / EXP
