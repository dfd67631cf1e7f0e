"""Smoke test: the benchmark scripts run at tiny size and print parseable JSON (no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)  # a benchmark script's subprocess may take 300 s

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
    pytest.importorskip("rnnsearch.decoding.search")
    args = ["--model", "rnnsearch", "--batch", "2", "--src-len", "5", "--beam", "3"]
    (record,) = _run("decode.py", *args, "--dtype", "bf16")
    assert SHARED_KEYS <= record.keys()
    assert record["sentences_per_s"] > 0 and record["decoder_steps"] >= 1
    assert record["dtype"] == "bf16" and record["beam"] == 3


@pytest.mark.parametrize("bench", ["train", "decode"])
def test_ab_script_times_every_variant(bench: str) -> None:
    args = ["--bench", bench, "--batch", "2", "--src-len", "5", "--tgt-len", "4", "--beam", "2",
            "--rounds", "2", "--variant", "scan_backward",
            "--variant", "logistic_attention,grouped_beam_source",
            "--variant", "scan_backward,eager_loops",
            "--variant", "fused_output_loss,optim=adam-fused"]
    (record,) = _run("ab.py", *args)
    assert record["size"] == "tiny" and record["speedup"]["reference"] == 1.0
    assert set(record["median_s"]) == {
        "reference", "scan_backward", "logistic_attention,grouped_beam_source",
        "scan_backward,eager_loops",
        "fused_output_loss,optim=adam-fused",
    }


def test_peer_preset_has_joeynmt_demo_sizes() -> None:
    sys.path.insert(0, str(BENCH))
    from _common import model_config  # noqa: PLC0415

    args = _parse(["--size", "peer"])
    cfg, vocab = model_config("rnnsearch", args)
    assert (cfg.emb_dim, cfg.hidden_dim, cfg.attn_dim, cfg.maxout_dim, vocab) == (
        32, 64, 64, 32, 1000
    )


def _parse(argv: list[str]):
    import argparse  # noqa: PLC0415

    from _common import add_common_args  # noqa: PLC0415

    parser = argparse.ArgumentParser()
    add_common_args(parser)
    return parser.parse_args(argv)
