"""`eval.checkpoint: best | last`: which weights Table 1 translates.

GroundHog reported its four budgeted models as training left them (`last`, scale=paper);
RNNsearch-50* was trained until dev stopped improving (`best`); the demo keeps `best`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from omegaconf import DictConfig

from rnnsearch import translate
from rnnsearch.decoding.settings import DecodeSettings
from rnnsearch.evaluation.checkpoint import table1_checkpoint
from rnnsearch.file_hash import file_sha256
from rnnsearch.training.fit import run as train

Compose = Callable[..., DictConfig]
BUDGETED = ("rnnencdec_30", "rnnencdec_50", "rnnsearch_30", "rnnsearch_50")


def _choice(compose_cfg: Compose, *overrides: str) -> str:
    cfg = compose_cfg(*overrides)
    return table1_checkpoint(cfg.eval, cfg.experiment_name)


@pytest.mark.parametrize("experiment", BUDGETED)
def test_paper_scale_translates_the_last_checkpoint_of_the_budgeted_models(
        compose_cfg: Compose, experiment: str) -> None:
    assert _choice(compose_cfg, f"experiment={experiment}", "scale=paper") == "last"
    assert _choice(compose_cfg, f"experiment={experiment}") == "best"  # the demo


def test_rnnsearch_50star_keeps_the_best_checkpoint_at_every_scale(compose_cfg: Compose) -> None:
    for scale in ("demo", "paper"):
        assert _choice(compose_cfg, "experiment=rnnsearch_50star", f"scale={scale}") == "best"


def test_the_switch_and_a_wrong_value(compose_cfg: Compose) -> None:
    assert _choice(compose_cfg, "experiment=rnnsearch_50", "eval.checkpoint=last") == "last"
    assert _choice(compose_cfg, "experiment=rnnsearch_50", "scale=paper",
                   "eval.checkpoint_by_experiment.rnnsearch_50=best") == "best"
    with pytest.raises(ValueError, match=r"^eval.checkpoint must be one of best\|last, got 'x'$"):
        _choice(compose_cfg, "eval.checkpoint=x")
    with pytest.raises(ValueError, match=r"^eval.checkpoint_by_experiment.rnnsearch_50 must be"):
        _choice(compose_cfg, "experiment=rnnsearch_50", "scale=paper",
                "eval.checkpoint_by_experiment.rnnsearch_50=final")


@pytest.mark.parametrize("choice", ["best", "last"])
def test_translate_decodes_the_chosen_checkpoint(train_cfg: Compose, tmp_path: Path,
                                                 choice: str) -> None:
    cfg = train_cfg("experiment=rnnsearch_30", f"eval.checkpoint={choice}")
    summary = train(cfg)
    info = translate.run(cfg)
    chosen = tmp_path / "artifacts/models/rnnsearch_30" / f"{choice}.ckpt"
    assert info["checkpoint"]["path"] == str(chosen) and info["checkpoint"]["choice"] == choice
    assert info["checkpoint"]["sha256"] == file_sha256(chosen)
    if choice == "last":  # its dev perplexity is the final validation's (evaluate: dev_ppl)
        rows = (tmp_path / "reports/curves/rnnsearch_30.csv").read_text().splitlines()
        final_nll = float(rows[-1].split(",")[3])  # CURVE_COLUMNS: step, train x2, val/loss
        assert info["checkpoint"]["step"] == summary["updates"] == int(rows[-1].split(",")[0])
        assert summary["dev_ppl_last"] == pytest.approx(2.718281828459045 ** final_nll)


def test_translate_stage_depends_on_both_checkpoints_and_the_switch(repo_root: Path) -> None:
    stage = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]["translate"]["do"]
    assert {"artifacts/models/${key}/best.ckpt", "artifacts/models/${key}/last.ckpt"} <= set(
        stage["deps"])
    params = {next(iter(p)) if isinstance(p, dict) else p: p for p in stage["params"]}
    assert params["conf/eval/sacrebleu.yaml"]["conf/eval/sacrebleu.yaml"] == [
        "checkpoint", "checkpoint_by_experiment"]
    assert "conf/scale/${scale}.yaml" in params and "conf/experiment/${key}.yaml" in params


def test_translate_json_names_the_choice_for_the_report(train_cfg: Compose, tmp_path: Path) -> None:
    """...and the decode settings and model sizes it translated with: the checkpoint's model
    (a config that says otherwise loses), the settings built once from the decode config."""
    trained = train_cfg("experiment=rnnencdec_30")
    train(trained)
    cfg = train_cfg("experiment=rnnencdec_30", "decode.beam_size=3",
                    f"model.hidden_dim={trained.model.hidden_dim + 8}")
    translate.run(cfg)
    info = json.loads((tmp_path / "artifacts/translations/rnnencdec_30/translate.json").read_text())
    assert info["checkpoint"]["choice"] == "best"
    assert info["decode"] == DecodeSettings.from_config(cfg.decode).to_dict()
    assert info["decode"]["beam_size"] == 3
    model = info["checkpoint"]["model"]
    assert model["hidden_dim"] == trained.model.hidden_dim != cfg.model.hidden_dim
    assert model["emb_dim"] == trained.model.emb_dim
