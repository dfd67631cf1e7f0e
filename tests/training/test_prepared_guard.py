"""Training refuses data prepared under another scale or shortlist, and WMT'14 at demo scale."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from rnnsearch.training.fit import run

Compose = Callable[..., DictConfig]


def _copy_with_stats(prepared_dir: Path, dest: Path, **changes: object) -> Path:
    shutil.copytree(prepared_dir, dest)
    stats = json.loads((dest / "stats.json").read_text())
    (dest / "stats.json").write_text(json.dumps({**stats, **changes}))
    return dest


def test_prepared_at_paper_scale_refused_at_demo_scale(train_cfg: Compose, prepared_dir: Path,
                                                       tmp_path: Path) -> None:
    other = _copy_with_stats(prepared_dir, tmp_path / "paper", scale="paper", vocab_size=30000)
    cfg = train_cfg(f"data.prepared_dir={other}")
    with pytest.raises(ValueError, match=r"paper/stats\.json was prepared with scale=paper "
                                         r"\(this run: demo\), data\.vocab_size=30000 "
                                         r"\(this run: 700\).*scale=demo") as err:
        run(cfg)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "artifacts").exists()  # refused before anything was written


def test_other_shortlist_at_same_scale_is_refused(train_cfg: Compose, prepared_dir: Path,
                                                  tmp_path: Path) -> None:
    other = _copy_with_stats(prepared_dir, tmp_path / "p", vocab_size=2000)
    with pytest.raises(ValueError, match=r"data\.vocab_size=2000 \(this run: 700\)"):
        run(train_cfg(f"data.prepared_dir={other}"))


def test_stats_without_recorded_scale_is_refused(train_cfg: Compose, prepared_dir: Path,
                                                 tmp_path: Path) -> None:
    other = tmp_path / "old"
    shutil.copytree(prepared_dir, other)
    (other / "stats.json").write_text(json.dumps({"vocab_size": 1000}))  # an older prepare
    with pytest.raises(ValueError, match=r"scale=unrecorded \(this run: demo\)"):
        run(train_cfg(f"data.prepared_dir={other}"))


def test_wmt14_at_demo_scale_refused_before_training(train_cfg: Compose) -> None:
    with pytest.raises(ValueError, match=r"data=wmt14_en_fr needs scale=paper, not scale=demo"):
        run(train_cfg("data=wmt14_en_fr"))
