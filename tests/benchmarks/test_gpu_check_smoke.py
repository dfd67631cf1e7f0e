"""`benchmarks/gpu_check.py --smoke` (make gpu-check SMOKE=1) runs the GPU check's code at tiny
sizes on the CPU and prints the JSON lines a GPU run would, so the prepared check cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.timeout(900)  # the module's smoke subprocess may take 600 s

REPO = Path(__file__).resolve().parents[2]
RUN_KEYS = {"model", "dtype", "mode", "device", "torch", "peak_mem_mb", "mem_kind"}


@pytest.fixture(scope="module")
def smoke_lines() -> list[dict]:
    cmd = [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--smoke"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines and all(line.startswith("{") for line in lines), out.stdout[-3000:]
    return [json.loads(line) for line in lines]


def _of(lines: list[dict], check: str) -> list[dict]:
    return [r for r in lines if r["check"] == check]


def test_smoke_env_and_sgemm_lines(smoke_lines) -> None:
    (env,) = _of(smoke_lines, "env")
    assert env["smoke"] is True and env["device"] == "cpu" and env["torch"] == torch.__version__
    assert "error" not in env
    sgemm = {r["dtype"]: r for r in _of(smoke_lines, "sgemm")}
    assert set(sgemm) == {"fp32", "bf16"}
    assert all(r["sgemm_peak_gflops"] > 0 and r["threads"] == 1 for r in sgemm.values())


def test_smoke_runs_the_gpu_tests_which_skip_without_cuda(smoke_lines) -> None:
    (tests,) = _of(smoke_lines, "gpu_tests")
    assert tests["rc"] == 0 and tests["failed"] == 0 and tests["failing"] == []
    if not torch.cuda.is_available():
        assert tests["passed"] == 0 and tests["skipped"] >= 10


def test_smoke_trains_every_model_and_dtype_and_reports_flops(smoke_lines) -> None:
    train = _of(smoke_lines, "train")
    eager = {(r["model"], r["dtype"]): r for r in train if r["mode"] == "eager"}
    assert set(eager) == {(m, d) for m in ("rnnsearch", "rnnencdec") for d in ("fp32", "bf16")}
    for r in eager.values():
        assert RUN_KEYS <= r.keys() and "error" not in r
        assert r["size"] == "tiny" and r["device"] == "cpu" and r["mem_kind"] == "cpu_peak_rss"
        assert r["updates_per_s"] > 0 and r["flops_per_update"] > 0 and r["achieved_gflops"] >= 0
    # RNNsearch does strictly more arithmetic per update than RNNencdec at equal sizes.
    assert eager["rnnsearch", "fp32"]["flops_per_update"] > eager["rnnencdec", "fp32"][
        "flops_per_update"]
    others = [r for r in train if r["mode"] != "eager"]
    assert {r["mode"] for r in others} == {"cuda_graph", "compile"} and len(others) == 8
    assert all(r["skipped"] for r in others)  # no CUDA graphs on the CPU; compile not in smoke


def test_smoke_decodes_a_newstest_length_corpus_with_both_models(smoke_lines) -> None:
    decode = {r["model"]: r for r in _of(smoke_lines, "decode")}
    assert set(decode) == {"rnnsearch", "rnnencdec"}
    for r in decode.values():
        assert RUN_KEYS <= r.keys() and r["bench"] == "decode_corpus" and r["beam"] == 12
        assert r["sentences"] == 24 and r["corpus_s"] > 0 and r["decoder_steps"] > 0
        assert r["lengths_from"]


def test_smoke_summary_has_the_targets_and_no_errors(smoke_lines) -> None:
    (summary,) = _of(smoke_lines, "summary")
    assert summary["errors"] == 0 and summary["smoke"] is True
    assert summary["rnnsearch_updates_per_s_target"] == 25.0
    assert summary["newstest2014_beam12_s_target"] == 60.0
    assert summary["rnnsearch_updates_per_s"] > 0 and summary["newstest2014_beam12_s"] > 0
    assert "updates_target_met" not in summary  # tiny CPU figures do not judge the targets
    assert smoke_lines[-1] is summary
