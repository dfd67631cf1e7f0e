"""The fault-injection benchmark's own logic: the report comparison ignores run times only, and
the kill plan is seeded and covers every stage kind. The end-to-end run (10 kills at scale=tiny,
~6.5 min on 2 cores) is too long for the test suite; its command and result are in
docs/troubleshooting.md."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "benchmarks" / "fault_injection.py"


def _module():
    spec = importlib.util.spec_from_file_location("fault_injection", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RESULTS = """\
- Prepared data: data = embedded, seconds = 3.09, train.pairs = 900

| Model | Updates | Hours | Device | Dev NLL |
|---|---|---|---|---|
| RNNsearch-30 | 240 | {hours} | cpu | {nll} |

| Model | Beam | Seconds | Checkpoint step |
|---|---|---|---|
| RNNsearch-30 | 3 | {secs} | 240 |
"""


def test_report_comparison_ignores_run_times_but_not_results(tmp_path: Path) -> None:
    fi = _module()
    want, got = tmp_path / "want", tmp_path / "got"
    for root, hours, secs in ((want, "0.01", "1.46"), (got, "0.30", "9.99")):
        (root / "metrics").mkdir(parents=True)
        (root / "plots" / "rnnsearch_30").mkdir(parents=True)
        metrics = {"bleu": {"all": 2.3}, "decode": {"seconds": float(secs)},
                   "checkpoint": {"sha256": hours, "step": 240}, "training": {"hours": hours}}
        (root / "metrics" / "rnnsearch_30.json").write_text(json.dumps(metrics))
        (root / "plots" / "rnnsearch_30" / "bleu_by_length.csv").write_text(
            "bucket,length,bleu\n0-9,5.0,1.24\n")
        (root / "results.md").write_text(RESULTS.format(hours=hours, nll="2.93", secs=secs))
    assert fi.compare_reports(want, got) == []
    (got / "results.md").write_text(RESULTS.format(hours="1", nll="2.94", secs="1"))
    (got / "plots" / "rnnsearch_30" / "bleu_by_length.csv").write_text(
        "bucket,length,bleu\n0-9,5.0,1.26\n")
    metrics = json.loads((got / "metrics" / "rnnsearch_30.json").read_text())
    metrics["bleu"]["all"] = 2.305  # within the printed digit: equal
    metrics["checkpoint"]["step"] = 200
    (got / "metrics" / "rnnsearch_30.json").write_text(json.dumps(metrics))
    assert fi.compare_reports(want, got) == [
        "metrics/rnnsearch_30.json.checkpoint.step: 240 vs 200",
        "plots/rnnsearch_30/bleu_by_length.csv[1][2]: 1.24 vs 1.26",
        "results.md: differs (run times excluded)",
    ]


def test_kill_plan_is_seeded_and_covers_every_stage_kind() -> None:
    fi = _module()
    plans = [fi.plan(10, fi.random.Random(7)) for _ in range(2)]
    assert plans[0] == plans[1]
    kinds = [k for k, _ in plans[0]]
    assert kinds == sorted(kinds, key=fi.KINDS.index) and set(kinds) == set(fi.KINDS)
    assert all(0.05 <= f <= 0.95 for _, f in plans[0])


def test_the_probe_patches_the_training_record_class() -> None:
    """The probe's import hook names TrainingRecord's real module and wraps its batch hook."""
    import ast

    from rnnsearch.training import record

    source = _module().probe_source()
    ast.parse(source)
    assert f'name != "{record.TrainingRecord.__module__}"' in source
    assert "module.TrainingRecord.on_train_batch_end = on_train_batch_end" in source
