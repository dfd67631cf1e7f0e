"""Shared fixtures: repository paths and Hydra composition with test-friendly overrides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from rnnsearch.config import register_configs

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"

torch.set_num_threads(1)  # CI has two cores; keep tests from oversubscribing them


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real WMT'14 samples beside the checkout; tests using it skip when it is absent."""
    path = SHARED_DIR / "data" / "real"
    if not path.is_dir():
        pytest.skip("real WMT'14 samples (../shared/data/real) not available")
    return path


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose `conf/config.yaml` with overrides; every output path points into tmp_path."""

    def _compose(*overrides: str, root: Path | None = None) -> DictConfig:
        register_configs()
        GlobalHydra.instance().clear()
        base = [f"paths.root_dir={root or tmp_path}", "logger=none"]
        with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
            return compose("config", overrides=[*base, *overrides])

    yield _compose
    GlobalHydra.instance().clear()
