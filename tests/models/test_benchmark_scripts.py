"""Smoke test: the benchmark scripts run at tiny size and print parseable JSON (no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
TINY = ["--size", "tiny", "--steps", "2", "--warmup", "1", "--threads", "1"]
SHARED_KEYS = {"model", "device", "device_name", "dtype", "torch", "peak_mem_mb", "mem_kind"}


def _run(script: str, *args: str) -> list[dict]:
    cmd = [sys.executable, str(BENCH / script), *TINY, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_train_step_script_prints_one_json_line_per_model() -> None:
    records = _run("train_step.py", "--batch", "4", "--src-len", "7", "--tgt-len", "6")
    assert [r["model"] for r in records] == ["rnnsearch", "rnnencdec"]
    for r in records:
        assert SHARED_KEYS <= r.keys()
        assert r["updates_per_s"] > 0 and r["tgt_tokens_per_s"] > 0
        assert r["mem_kind"] == "cpu_peak_rss" and r["torch"]


def test_decode_script_prints_json_with_sentences_per_s() -> None:
    pytest.importorskip("rnnsearch.evaluation.search")
    args = ["--model", "rnnsearch", "--batch", "2", "--src-len", "5", "--beam", "3"]
    (record,) = _run("decode.py", *args, "--dtype", "bf16")
    assert SHARED_KEYS <= record.keys()
    assert record["sentences_per_s"] > 0 and record["decoder_steps"] >= 1
    assert record["dtype"] == "bf16" and record["beam"] == 3
