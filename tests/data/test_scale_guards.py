"""Corpus/scale guards: WMT'14 only at paper scale; stats.json records the prepare settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from rnnsearch import generate, prepare


def test_wmt14_at_demo_scale_stops_naming_the_scale(compose_cfg: Callable[..., DictConfig],
                                                     tmp_path: Path) -> None:
    cfg = compose_cfg("data=wmt14_en_fr")  # scale=demo is the default
    with pytest.raises(ValueError, match=r"data=wmt14_en_fr needs scale=paper, not scale=demo "
                                         r"\(a 700-word shortlist") as err:
        prepare.run(cfg)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "artifacts").exists()  # stopped before writing anything


def test_wmt14_at_paper_scale_passes_the_guard(compose_cfg: Callable[..., DictConfig]) -> None:
    cfg = compose_cfg("data=wmt14_en_fr", "scale=paper")
    with pytest.raises(FileNotFoundError, match=r"rnnsearch\.wmt14"):  # no download here
        prepare.run(cfg)


def test_stats_json_records_scale_and_shortlist(tiny_cfg: Callable[..., DictConfig]) -> None:
    cfg = tiny_cfg()
    generate.run(cfg)
    prepare.run(cfg)
    stats = json.loads((Path(cfg.data.prepared_dir) / "stats.json").read_text())
    assert {k: stats[k] for k in ("data", "scale", "vocab_size", "prepare_max_len")} == \
        {"data": "embedded", "scale": "demo", "vocab_size": 300, "prepare_max_len": 50}


@pytest.mark.parametrize("scale,passes", [("tiny", True), ("real", False)])
def test_wmt14_lium_at_the_smoke_scale_passes_the_guard(compose_cfg: Callable[..., DictConfig],
                                                        scale: str, passes: bool) -> None:
    """`make repro-wmt14 SCALE=tiny` runs the paper's recipe end to end in minutes; `real`
    (a CPU preset for a user's corpus) still stops."""
    cfg = compose_cfg("data=wmt14_lium", f"scale={scale}")
    if passes:
        with pytest.raises(FileNotFoundError, match=r"rnnsearch\.wmt14"):  # past the guard
            prepare.run(cfg)
    else:
        with pytest.raises(ValueError, match=rf"needs scale=paper, not scale={scale}"):
            prepare.run(cfg)
