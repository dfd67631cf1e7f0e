"""dvc.yaml's experiment list matches conf/experiment, and DVC itself parses the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

OPTIONAL = {"rnnsearch_50star"}  # trained much longer (Table 1); added by hand (docs/pipeline.md)


def _pipeline_vars(repo_root: Path) -> dict:
    return yaml.safe_load((repo_root / "conf" / "pipeline.yaml").read_text())


def test_dvc_experiments_equal_conf_experiments(repo_root: Path) -> None:
    conf = {p.stem for p in (repo_root / "conf" / "experiment").glob("*.yaml")}
    assert set(_pipeline_vars(repo_root)["experiments"]) == conf - OPTIONAL


def test_each_experiment_names_the_model_its_config_selects(repo_root: Path) -> None:
    for exp, model in _pipeline_vars(repo_root)["experiments"].items():
        text = (repo_root / "conf" / "experiment" / f"{exp}.yaml").read_text()
        assert f"override /model: {model}" in text, exp


def test_dvc_parses_stages_and_figure2_plot_lists_every_experiment(repo_root: Path) -> None:
    dvc_repo = pytest.importorskip("dvc.repo")
    exps = list(_pipeline_vars(repo_root)["experiments"])
    with dvc_repo.Repo(str(repo_root)) as repo:
        names = {stage.addressing for stage in repo.index.stages}
    expected = {"prepare", "train", "report"} | {  # one `train` runs them all (train_many)
        f"{step}@{exp}" for step in ("translate", "evaluate") for exp in exps
    }
    assert expected <= names
    spec = yaml.safe_load((repo_root / "dvc.yaml").read_text())
    figure2 = next(p["bleu_by_length"] for p in spec["plots"] if "bleu_by_length" in p)
    assert set(figure2["y"]) == {f"reports/plots/{e}/bleu_by_length.csv" for e in exps}
