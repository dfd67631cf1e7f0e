"""Fixtures for the training tests: the tiny prepared corpus, the tiny-model overrides and
`train_cfg` live in tests/conftest.py (the CUDA checks in tests/gpu use them too); here, the
one uninterrupted run that the crash (test_resume.py) and signal (test_preempt.py) resumes must
equal, trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import RESUME_SCHEDULE, TINY, compose_config

from rnnsearch.training.fit import run


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, prepared_dir: Path) -> Path:
    """Root of one uninterrupted `RESUME_SCHEDULE` run (as `train_cfg(*RESUME_SCHEDULE)`)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    run(compose_config(root, f"data.prepared_dir={prepared_dir}", *TINY, *RESUME_SCHEDULE))
    return root
