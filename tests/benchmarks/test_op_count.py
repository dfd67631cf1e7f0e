"""benchmarks/op_count.py counts ATen calls, forward, backward and optimizer alike; the scripts
report them (`aten_ops_per_update`, `aten_ops_per_step`); ab.py's `--search-from` runs an older
search.py (and its beam_select.py) next to today's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from op_count import OpCounter, count_aten_ops  # noqa: E402

pytestmark = pytest.mark.timeout(600)
TINY = ["--size", "tiny", "--steps", "1", "--warmup", "0", "--threads", "1", "--batch", "2",
        "--src-len", "5"]


def _run(script: str, *args: str) -> list[dict]:
    cmd = [sys.executable, str(ROOT / "benchmarks" / script), *TINY, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_counter_counts_each_aten_call_including_backward_and_optimizer() -> None:
    a, b = torch.randn(3), torch.randn(3)
    assert count_aten_ops(lambda: (a + b).sum()) == 2  # add, sum
    assert count_aten_ops(lambda: None) == 0
    w = torch.randn(3, requires_grad=True)
    forward = count_aten_ops(lambda: (w * a).sum())
    with OpCounter() as counter:
        (w * a).sum().backward()
    assert counter.count > forward  # the backward's ops are counted as well
    optim = torch.optim.SGD([w], lr=0.1)
    assert count_aten_ops(optim.step) > 0


def test_scripts_report_aten_ops() -> None:
    (train,) = _run("train_step.py", "--model", "rnnsearch", "--tgt-len", "4")
    assert isinstance(train["aten_ops_per_update"], int) and train["aten_ops_per_update"] > 100
    (decode,) = _run("decode.py", "--model", "rnnsearch", "--beam", "3")
    assert 0 < decode["aten_ops_model_step"] < decode["aten_ops_per_step"]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs the git checkout")
def test_ab_search_from_a_revision_runs_it_beside_todays() -> None:
    (record,) = _run("ab.py", "--bench", "decode", "--beam", "3", "--rounds", "1",
                     "--search-from", "HEAD", "--weight-std", "0.3")
    assert set(record["median_s"]) == {"reference", "reference@HEAD"}
    assert record["same_output"] == {"reference": True} and record["weight_std"] == 0.3


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs the git checkout")
def test_a_revisions_search_runs_with_that_revisions_beam_select() -> None:
    import ab  # benchmarks/ab.py

    from rnnsearch.decoding import beam_select

    old_search = sys.modules[ab.search_at("HEAD").__module__]  # search.py at HEAD
    old_select = old_search.beam_select
    assert old_select is not beam_select and old_select.__name__ == "beam_select_at_HEAD"
