"""train_many: each experiment in its own process, failures named in one line, others kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from rnnsearch import train_many


def _fake_command(experiment: str, overrides: list[str]) -> list[str]:
    """Stands in for `python -m rnnsearch.train`: prints its arguments, fails for 'bad'."""
    code = ("import sys; print('args', *sys.argv[1:]); "
            "sys.exit(3 if sys.argv[1] == 'experiment=bad' else 0)")
    return [sys.executable, "-c", code, f"experiment={experiment}", *overrides]


def test_every_experiment_runs_with_the_overrides(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(train_many, "train_command", _fake_command)
    status = train_many.run(["a", "b", "c"], ["scale=demo"], jobs=2, log_dir=tmp_path)
    assert status == 0
    for exp in "abc":
        assert (tmp_path / f"{exp}.log").read_text().strip() == f"args experiment={exp} scale=demo"


def test_a_failure_is_one_line_and_the_others_finish(tmp_path: Path, monkeypatch,
                                                     capsys) -> None:
    monkeypatch.setattr(train_many, "train_command", _fake_command)
    assert train_many.run(["bad", "good"], [], jobs=1, log_dir=tmp_path) == 1
    assert (tmp_path / "good.log").read_text().startswith("args experiment=good")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("train bad failed (exit 3): args experiment=bad")
    assert str(tmp_path / "bad.log") in err[0]


def test_arguments_split_at_double_dash(tmp_path: Path, monkeypatch) -> None:
    seen = {}

    def fake_run(experiments, overrides, jobs, log_dir):
        seen.update(experiments=experiments, overrides=overrides, jobs=jobs)
        return 0

    monkeypatch.setattr(train_many, "run", fake_run)
    with pytest.raises(SystemExit) as exit_info:
        train_many.main(["--jobs", "3", "x", "y", "--", "data=embedded", "seed=2"])
    assert exit_info.value.code == 0
    assert seen == {"experiments": ["x", "y"], "overrides": ["data=embedded", "seed=2"],
                    "jobs": 3}


def test_zero_jobs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--jobs must be at least 1"):
        train_many.run(["x"], [], jobs=0, log_dir=tmp_path)


def test_the_real_command_is_the_single_model_entry_point() -> None:
    cmd = train_many.train_command("rnnsearch_50", ["scale=demo"])
    assert cmd[1:] == ["-m", "rnnsearch.train", "experiment=rnnsearch_50", "scale=demo"]


def test_experiments_from_the_pipeline_file(tmp_path: Path, monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr(train_many, "run", lambda e, o, j, d: seen.update(e=e) or 0)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("experiments:\n  rnnsearch_50: rnnsearch\n  rnnencdec_30: rnnencdec\n")
    with pytest.raises(SystemExit):
        train_many.main(["--pipeline", str(pipeline)])
    assert seen["e"] == ["rnnsearch_50", "rnnencdec_30"]  # the file's order: slowest first
    with pytest.raises(SystemExit) as exit_info:
        train_many.main([])
    assert exit_info.value.code == 2  # argparse: "no experiments"


def test_the_pipeline_files_per_scale_jobs_win_over_the_flag(tmp_path: Path, monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr(train_many, "run", lambda e, o, j, d: seen.update(j=j) or 0)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("experiments: {a: rnnsearch}\ntrain_jobs_by_scale: {paper: 1}\n")
    for overrides, jobs in ((["data=wmt14_lium", "scale=paper"], 1), (["scale=demo"], 2), ([], 2)):
        with pytest.raises(SystemExit):
            train_many.main(["--jobs", "2", "--pipeline", str(pipeline), "--", *overrides])
        assert seen["j"] == jobs, overrides


def test_the_repositorys_pipeline_trains_one_model_at_a_time_at_paper_scale(
        repo_root: Path) -> None:
    pipeline = OmegaConf.load(repo_root / "conf/pipeline.yaml")
    assert train_many.jobs_for_scale(pipeline, ["scale=paper"], pipeline.train_jobs) == 1
    assert train_many.jobs_for_scale(pipeline, ["scale=demo"], pipeline.train_jobs) == 2
