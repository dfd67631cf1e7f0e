"""A Hydra multirun of rnnsearch.experiment trains, translates and evaluates every job in its own
sweep directory; rnnsearch.sweep_report gives BLEU mean ± std across seeds (tiny scale)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tests.conftest import SWEEP, compose_config

from rnnsearch import generate, prepare, sweep_report

pytestmark = pytest.mark.timeout(900)  # the module's sweep subprocess may take 600 s

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep_root")
    cfg = compose_config(root, *SWEEP)
    generate.run(cfg)
    prepare.run(cfg)
    sweep_dir = root / "sweep"
    cmd = [sys.executable, "-m", "rnnsearch.experiment", "-m", "seed=1,2",
           "experiment=rnnsearch_30,rnnencdec_30", f"paths.root_dir={root}", *SWEEP,
           f"hydra.sweep.dir={sweep_dir}"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return sweep_dir


def test_each_job_is_trained_translated_and_evaluated_in_its_own_dir(sweep: Path) -> None:
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir() and p.name[0].isdigit())
    assert len(jobs) == 4
    for job in jobs:
        exp = "rnnsearch_30" if "rnnsearch_30" in job else "rnnencdec_30"
        assert (sweep / job / "best.ckpt").is_file()
        assert len((sweep / job / "translations/test.hyp.tok").read_text().splitlines()) == 40
        m = json.loads((sweep / job / "reports/metrics" / f"{exp}.json").read_text())
        assert set(m["bleu"]) == {"all", "no_unk"}


def test_sweep_report_gives_mean_and_std_over_seeds(sweep: Path) -> None:
    assert sweep_report.main([str(sweep)]) == 0
    text = (sweep / "sweep_report.md").read_text()
    assert (sweep / "bleu_by_length_seeds.png").stat().st_size > 0
    for exp, name in (("rnnsearch_30", "RNNsearch-30"), ("rnnencdec_30", "RNNencdec-30")):
        scores = [json.loads(p.read_text())["bleu"]["all"]
                  for p in sweep.glob(f"*/reports/metrics/{exp}.json")]
        assert len(scores) == 2  # seeds 1 and 2
        want = f"{statistics.fmean(scores):.2f} ± {statistics.stdev(scores):.2f}"
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        assert row.split(" | ")[1:3] == ["2", want], row
        curve = next(sweep.glob(f"*_{exp}_seed1/reports/plots/{exp}/bleu_by_length.csv"))
        n_buckets = len(curve.read_text().splitlines()) - 1
        assert row.count("±") == 1 + n_buckets  # All and each length bucket (No UNK: n/a or ±)
    assert sweep_report.main([str(sweep / "missing")]) == 1


def test_summarise_uses_sample_std_per_bucket() -> None:
    """Mean ± sample std (n-1) of three seeds, per column and per bucket; No UNK may be null."""
    runs = {"rnnsearch_30": [
        {"job": str(k), "bleu": b, "no_unk": None if k == 0 else b + 1,
         "buckets": [("0-9", 5.0, b), ("10-19", 15.0, 2 * b)]}
        for k, b in enumerate((10.0, 12.0, 17.0))]}
    s = sweep_report.summarise(runs)["rnnsearch_30"]
    assert s["seeds"] == 3 and s["bleu"] == pytest.approx((13.0, statistics.stdev([10, 12, 17])))
    assert s["no_unk"] == pytest.approx((15.5, statistics.stdev([13, 18])))
    assert s["buckets"][1][:2] == ("10-19", 15.0)
    assert s["buckets"][1][2:] == pytest.approx((26.0, 2 * statistics.stdev([10, 12, 17])))
    assert "| RNNsearch-30 | 3 | 13.00 ± 3.61 | 15.50 ± 3.54 | 13.00 ± 3.61 | 26.00 ± 7.21 |" \
        in sweep_report.table({"rnnsearch_30": s})
    runs["rnnsearch_30"][0]["buckets"] = [("0-9", 5.0, 1.0)]
    with pytest.raises(ValueError, match="rnnsearch_30: the jobs' bleu_by_length.csv have"):
        sweep_report.summarise(runs)


def test_each_seed_trains_its_own_model(sweep: Path) -> None:
    """BLEU is about 0 for every seed at this size, so it cannot show the seed was used: each
    job's config.yaml must carry its own seed and the seeds' weights must differ."""
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name[0].isdigit())
    for exp in ("rnnsearch_30", "rnnencdec_30"):
        runs = [j for j in jobs if j.name.endswith(tuple(f"{exp}_seed{s}" for s in (1, 2)))]
        assert len(runs) == 2, [j.name for j in jobs]
        seeds = [yaml.safe_load((j / "config.yaml").read_text())["seed"] for j in runs]
        assert seeds == [int(j.name.rpartition("_seed")[2]) for j in runs] and seeds[0] != seeds[1]
        weights = [torch.load(j / "best.ckpt", map_location="cpu", weights_only=True)["state_dict"]
                   for j in runs]
        assert weights[0].keys() == weights[1].keys()
        assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
