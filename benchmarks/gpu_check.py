"""The prepared GPU check: the `gpu` tests, paper-size training and decoding speed, peak memory.

Prints JSON lines, one per result, each with a `check` field:
    env          device, torch, CUDA, TF32 setting, mode (full or smoke), time budget
    sgemm        the device's matmul peak in fp32 and bf16 (flops.py), the yardstick for FLOP/s
    gpu_tests    pytest -m gpu tests/gpu: passed / failed / skipped counts and failing test names
    train        train_step.py per model x dtype (fp32, bf16) x mode (eager, cuda_graph, compile):
                 updates/s, achieved GFLOP/s, peak allocated memory
    decode       decode.py --sentences 3003: beam-12 decoding of newstest2014-length sentences
    summary      the speed targets (RNNsearch >= 25 updates/s at batch 80; newstest2014 at beam
                 12 in < 60 s) against the best measured figures, errors, elapsed time

Each benchmark runs in its own process (peak memory per configuration; a failure or hang in one
does not stop the others) under a shared time budget (--budget-s, default 450 s, so the check
ends within 8 minutes); a run that would not fit is reported as skipped. The compiled runs go
last because torch.compile costs most. Exit status 1 when a test or a run failed.

    python benchmarks/gpu_check.py           # on a CUDA machine (make gpu-check)
    python benchmarks/gpu_check.py --smoke   # the same runs at tiny sizes on the CPU (CI)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MODELS, DTYPES = ("rnnsearch", "rnnencdec"), ("fp32", "bf16")
REQUIRED = ("torch", "numpy", "omegaconf", "hydra", "pytest", "rnnsearch")
TARGET_UPDATES_PER_S, TARGET_DECODE_S = 25.0, 60.0  # the H100 speed targets
FULL = dict(
    train=["--size", "paper", "--batch", "80", "--src-len", "50", "--tgt-len", "50"],
    steps={"eager": 20, "cuda_graph": 50, "compile": 10}, warmup=3,
    decode=["--size", "paper", "--batch", "80", "--sentences", "3003", "--warmup", "1"],
    est={"eager": 25, "cuda_graph": 25, "compile": 120, "decode": 60, "tests": 120},
    sgemm_sizes=(4096, 8192),
)
SMOKE = dict(
    train=["--size", "tiny", "--batch", "4", "--src-len", "7", "--tgt-len", "6", "--threads", "1"],
    steps={"eager": 2, "cuda_graph": 2, "compile": 2}, warmup=1,
    decode=["--size", "tiny", "--batch", "8", "--sentences", "24", "--warmup", "1",
            "--threads", "1"],
    est={"eager": 5, "cuda_graph": 5, "compile": 60, "decode": 5, "tests": 20},
    sgemm_sizes=(256,),
)


def emit(record: dict) -> None:
    """One JSON line on stdout."""
    print(json.dumps(record), flush=True)


class Budget:
    """Seconds left of --budget-s; a run starts only if its estimate fits."""

    def __init__(self, seconds: float) -> None:
        self.start, self.seconds = time.monotonic(), seconds

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.start)


def child_env() -> dict[str, str]:
    """The environment of the child processes: src/ importable without an install."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return env


def run_child(cmd: list[str], timeout: float) -> tuple[int, list[dict], str]:
    """(exit status, JSON lines of stdout, tail of stderr); status 124 on timeout."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                             env=child_env(), check=False)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return 124, [], f"timed out after {timeout:.0f} s; {err[-1500:]}"
    records = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return out.returncode, records, out.stderr[-1500:]


def run_bench(kind: str, cmd: list[str], est: float, budget: Budget, fields: dict) -> list[dict]:
    """Run one benchmark process within the budget; emit its JSON lines (or why there are none)."""
    if budget.left() < est:
        emit({"check": kind, **fields, "skipped": f"time budget ({budget.left():.0f} s left)"})
        return []
    rc, records, err = run_child(cmd, timeout=max(est, budget.left()))
    if rc != 0 or not records:
        emit({"check": kind, **fields, "error": err.strip() or "no JSON output", "rc": rc})
        return [{"error": True}]
    for record in records:
        emit({"check": kind, **fields, **record})
    return records


def gpu_tests(budget: Budget, est: float) -> dict:
    """pytest -m gpu tests/gpu, summarised from its JUnit XML."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "gpu.xml"
        cmd = [sys.executable, "-m", "pytest", "tests/gpu", "-m", "gpu", "-q",
               "-p", "no:cacheprovider", f"--junitxml={xml}"]
        start = time.monotonic()
        rc, _, err = run_child(cmd, timeout=max(est, budget.left()))
        record = {"check": "gpu_tests", "rc": rc, "seconds": round(time.monotonic() - start, 1)}
        if not xml.is_file():
            return {**record, "error": err.strip() or "pytest wrote no report"}
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        failing = []
        for case in ET.parse(xml).iter("testcase"):
            outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "")
            key = {"failure": "failed", "error": "failed", "skipped": "skipped"}.get(
                outcome, "passed")
            counts[key] += 1
            if key == "failed":
                failing.append(f"{case.get('classname')}::{case.get('name')}")
    return {**record, **counts, "failing": failing}


def preflight(smoke: bool) -> str | None:
    """Why the check cannot run here, or None."""
    sys.path.insert(0, str(REPO / "src"))
    missing = [m for m in REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        return f"missing Python packages: {', '.join(missing)} (pip install -e . in the repo)"
    import torch  # noqa: PLC0415 (after the check above)

    if not smoke and not torch.cuda.is_available():
        return (f"torch {torch.__version__} sees no CUDA device; run on a CUDA machine with a "
                "CUDA build of torch, or use --smoke for the CPU rehearsal")
    return None


def sgemm_lines(device: str, sizes: tuple[int, ...]) -> dict[str, float]:
    """Emit the matmul peak per dtype on `device`; returns GFLOP/s by dtype name."""
    import torch  # noqa: PLC0415
    from flops import sgemm_peak  # noqa: PLC0415

    if device == "cpu":
        torch.set_num_threads(1)  # the smoke runs use --threads 1
    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        peak = sgemm_peak(torch.device(device), dtype, sizes, seconds=0.5)
        emit({"check": "sgemm", "device": device, "dtype": name, **peak})
        peaks[name] = peak["sgemm_peak_gflops"]
    return peaks


def train_runs(sizes: dict, device: str, budget: Budget, modes: tuple[str, ...]) -> list[dict]:
    """train_step.py for every model x dtype in each of `modes`."""
    results = []
    for mode in modes:
        for dtype in DTYPES:
            for model in MODELS:
                fields = {"model": model, "dtype": dtype, "mode": mode}
                if mode == "cuda_graph" and device != "cuda":
                    emit({"check": "train", **fields, "skipped": "CUDA graphs need a CUDA device"})
                    continue
                flag = {"eager": [], "cuda_graph": ["--cuda-graph"], "compile": ["--compile"]}
                cmd = [sys.executable, str(BENCH / "train_step.py"), *sizes["train"],
                       "--device", device, "--dtype", dtype, "--model", model,
                       "--steps", str(sizes["steps"][mode]), "--warmup", str(sizes["warmup"]),
                       *flag[mode]]
                records = run_bench("train", cmd, sizes["est"][mode], budget, fields)
                results += [{**fields, **r} for r in records]
    return results


def decode_runs(sizes: dict, device: str, budget: Budget) -> list[dict]:
    """decode.py --sentences for both models, fp32, beam 12."""
    results = []
    for model in MODELS:
        fields = {"model": model, "dtype": "fp32", "mode": "eager"}
        cmd = [sys.executable, str(BENCH / "decode.py"), *sizes["decode"], "--device", device,
               "--model", model, "--beam", "12"]
        results += run_bench("decode", cmd, sizes["est"]["decode"], budget, fields)
    return results


def summary(train: list[dict], decode: list[dict], tests: dict, smoke: bool, start: float) -> dict:
    """The speed targets against the best figures measured in this run."""
    rnnsearch = [r["updates_per_s"] for r in train
                 if r.get("model") == "rnnsearch" and "updates_per_s" in r]
    decoded = [r["corpus_s"] for r in decode if r.get("model") == "rnnsearch" and "corpus_s" in r]
    best_ups = max(rnnsearch, default=None)
    dec_s = min(decoded, default=None)
    errors = sum(1 for r in train + decode if r.get("error")) + (tests.get("failed", 0) > 0)
    targets = {
        "rnnsearch_updates_per_s": best_ups,
        "rnnsearch_updates_per_s_target": TARGET_UPDATES_PER_S,
        "newstest2014_beam12_s": dec_s,
        "newstest2014_beam12_s_target": TARGET_DECODE_S,
    }
    if not smoke:  # tiny CPU figures say nothing about the targets
        targets["updates_target_met"] = best_ups is not None and best_ups >= TARGET_UPDATES_PER_S
        targets["decode_target_met"] = dec_s is not None and dec_s < TARGET_DECODE_S
    return {"check": "summary", "smoke": smoke, **targets, "errors": int(errors),
            "gpu_tests_passed": tests.get("passed"), "gpu_tests_failed": tests.get("failed"),
            "elapsed_s": round(time.monotonic() - start, 1)}


def main() -> int:
    """Run everything in order of importance; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (CI)")
    parser.add_argument("--budget-s", type=float, default=0,
                        help="time budget in seconds (default: 450, smoke: 300)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile runs")
    args = parser.parse_args()
    start = time.monotonic()
    device, sizes = ("cpu", SMOKE) if args.smoke else ("cuda", FULL)
    budget = Budget(args.budget_s or (300 if args.smoke else 450))
    problem = preflight(args.smoke)
    env = {"check": "env", "smoke": args.smoke, "device": device,
           "python": platform.python_version(), "budget_s": budget.seconds}
    if problem:
        emit({**env, "error": problem})
        return 2
    import torch  # noqa: PLC0415
    from _common import device_name  # noqa: PLC0415

    emit({**env, "device_name": device_name(torch.device(device)), "torch": torch.__version__,
          "cuda": torch.version.cuda, "allow_tf32": torch.backends.cuda.matmul.allow_tf32})
    sgemm_lines(device, sizes["sgemm_sizes"])
    tests = gpu_tests(budget, sizes["est"]["tests"])
    emit(tests)
    train = train_runs(sizes, device, budget, ("eager",))
    decode = decode_runs(sizes, device, budget)
    train += train_runs(sizes, device, budget, ("cuda_graph",))
    if args.no_compile or args.smoke:
        # torch.compile takes 10-60 s per run on a CPU; its equality with eager is tested in
        # tests/models (test_compiled_recurrence_equals_eager), and the flag is the same here.
        reason = "--no-compile" if args.no_compile else "smoke: compile is tested in tests/models"
        for dtype in DTYPES:
            for model in MODELS:
                emit({"check": "train", "model": model, "dtype": dtype, "mode": "compile",
                      "skipped": reason})
    else:
        train += train_runs(sizes, device, budget, ("compile",))
    result = summary(train, decode, tests, args.smoke, start)
    emit(result)
    return 1 if result["errors"] or tests.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
