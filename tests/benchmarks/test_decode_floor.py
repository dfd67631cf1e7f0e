"""benchmarks/decode_floor.py splits a beam-search batch into the model's time and the
selection's, times the selection inside a real search and restores what it wrapped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from decode_floor import SelectTimer  # noqa: E402

from rnnsearch.decoding import beam_select  # noqa: E402

pytestmark = pytest.mark.timeout(600)


def test_the_floor_is_the_model_alone_plus_the_selection_timed_inside_the_search() -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "decode_floor.py"), "--size", "tiny",
           "--threads", "1", "--batch", "2", "--beam", "3", "--src-len", "6", "--rounds", "2",
           "--no-compiled"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    (line,) = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    assert line["bench"] == "decode_floor" and line["decoder_steps"] == 6  # the length cap
    assert line["model_compiled_s"] is None and line["search_compiled_s"] is None
    assert line["compile_error"] is None  # not asked for, so not tried
    assert 0 < line["select_s"] < line["search_s"]  # a part of the search, timed inside it
    assert line["floor_s"] == pytest.approx(line["model_s"] + line["select_s"], abs=2e-4)
    assert 0.0 <= line["tied_rows"] <= 1.0


def test_without_a_cxx_compiler_the_compiled_timings_are_null_and_say_why(tmp_path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "decode_floor.py"), "--size", "tiny",
           "--threads", "1", "--batch", "2", "--beam", "3", "--src-len", "6", "--rounds", "1"]
    env = {**os.environ, "CXX": str(tmp_path / "no-such-g++"),  # inductor's compiler
           "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")}  # nothing compiled before
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True, env=env)
    (line,) = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    assert line["model_compiled_s"] is None and line["search_compiled_s"] is None
    assert line["compiled_same_output"] is None
    assert "no-such-g++" in line["compile_error"]  # one line naming what failed
    assert line["floor_s"] == pytest.approx(line["model_s"] + line["select_s"], abs=2e-4)


def test_the_timer_counts_tied_rows_and_puts_the_selections_back() -> None:
    originals = [beam_select.select_topk_two_stage, beam_select.select_topk_checked]
    log_probs = torch.log_softmax(torch.tensor([[0.0, 0.0, -1.0, -2.0],  # tie among the best
                                                [3.0, 2.0, 1.0, 0.0]]), dim=-1)  # (B*K = 2, V)
    scores = torch.zeros(1, 2, dtype=torch.float64)  # (B = 1, K = 2)
    with SelectTimer() as timer:
        assert beam_select.select_topk_two_stage is not originals[0]
        slot, token, score, _ = beam_select.select_topk_two_stage(
            scores, log_probs, torch.tensor([2]), log_probs, 1)
    assert [beam_select.select_topk_two_stage, beam_select.select_topk_checked] == originals
    assert (timer.rows, timer.tied) == (2, 1) and timer.seconds > 0
    # the wrapped selection's own result: row 1's best word, then one of row 0's tied two
    assert slot.tolist() == [[1, 0]] and token[0, 0] == 0 and token[0, 1] in (0, 1)
