"""Preflight of the paper-scale run, on the device it will train on, in at most --budget-s (180 s).

`make preflight TRAINER=gpu` (which `make repro-wmt14` runs before the multi-day training):
    train        20 paper-size updates (batch 80, fp32, TF32 off as trainer=gpu) of RNNsearch and
                 of RNNencdec (benchmarks/_common.make_update: forward, NLL, backward, clip 1,
                 Adadelta), once on pairs of <= 50 tokens and once on pairs of <= 30, each batch
                 padded to its longest pair as GroundHog's sorted batches are (App. B.2;
                 sentence lengths from lengths.py): updates/s per experiment
    projection   the four budgeted models' update budgets (conf/scale/paper.yaml) at those rates:
                 hours each and in all (training only: no validation, checkpoints or data loading)
    decode       beam 10 over 50 test sentences: the prepared corpus's test set when it exists
                 (--prepared), else synthetic ids of newstest2014 lengths (lengths.py); the
                 `source` field says which
    gpu_tests    pytest -m gpu tests/gpu with the time that is left (benchmarks/gpu_check.py)
    two_processes (--two-processes) the RNNsearch-50 rate of two processes sharing the device,
                 against one (conf/pipeline.yaml: train_jobs)
    summary      ok, errors, elapsed seconds
Any error or failed test exits 1, so `make` stops before the long run. With --trainer cpu the
same steps run at tiny sizes on the CPU in a few seconds (the smoke form; no gpu tests).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import CONF, emit, make_update, paper_optimizer, setup, sync
from gpu_check import Budget, child_env, gpu_tests
from lengths import newstest_lengths
from omegaconf import OmegaConf

from rnnsearch.data.vocab import EOS_ID, PAD_ID
from rnnsearch.decoding.batches import batch_order
from rnnsearch.decoding.search import beam_search

REPO = Path(__file__).resolve().parents[1]
MODELS = {"rnnsearch": ("rnnsearch_50", "rnnsearch_30"), "rnnencdec": ("rnnencdec_50",
                                                                      "rnnencdec_30")}
UPDATES, WARMUP, DECODE_SENTENCES, BEAM = 20, 3, 50, 10
SIZES = {  # model preset (benchmarks/_common.py), minibatch, GroundHog's sort group (App. B.2)
    "gpu": dict(size="paper", batch=80, sort_batches=20, device="cuda"),
    "cpu": dict(size="tiny", batch=4, sort_batches=2, device="cpu"),
}


def sorted_batches(max_len: int, batch: int, groups: int, seed: int) -> list[tuple[int, int]]:
    """(source, target) padded lengths of `groups` minibatches of pairs of <= max_len tokens, cut
    from one length-sorted group of pairs as GroundHog's TM_dataset does (App. B.2)."""
    src, tgt, _ = newstest_lengths(4 * batch * groups, seed)
    keep = (src - 1 <= max_len) & (tgt - 1 <= max_len)  # words, without the EOS counted there
    src, tgt = src[keep][: batch * groups], tgt[keep][: batch * groups]
    order = np.argsort(tgt, kind="stable")
    return [(int(src[order[k:k + batch]].max()), int(tgt[order[k:k + batch]].max()))
            for k in range(0, len(order) - batch + 1, batch)]


def time_updates(model: torch.nn.Module, vocab: int, device: torch.device, shapes: list,
                 batch: int, updates: int) -> float:
    """Updates per second over `updates` updates cycling through the padded `shapes`."""
    optim = paper_optimizer(model)
    steps = [shapes[k % len(shapes)] for k in range(WARMUP + updates)]
    batches = []
    for src_len, tgt_len in steps:
        src = torch.randint(4, vocab, (batch, src_len), device=device)  # (B, S)
        tgt = torch.randint(4, vocab, (batch, tgt_len + 1), device=device)  # (B, T + 1)
        batches.append((src, torch.ones_like(src, dtype=torch.bool), tgt[:, :-1], tgt[:, 1:]))
    losses = [make_update(model, optim, b)() for b in batches[:WARMUP]]
    sync(device)
    start = time.perf_counter()
    losses += [make_update(model, optim, b)() for b in batches[WARMUP:]]
    sync(device)
    seconds = time.perf_counter() - start
    if not bool(torch.isfinite(torch.stack(losses)).all()):
        raise FloatingPointError("a non-finite training loss in the preflight updates")
    return updates / seconds


def train_rates(sizes: dict, device: torch.device) -> dict[str, float]:
    """Updates/s of each of the four budgeted experiments; one line each."""
    rates = {}
    for name, experiments in MODELS.items():
        args = argparse.Namespace(size=sizes["size"], seed=0, threads=0, encoder_cell="paper",
                                  compile=False, no_fused_encoder=False, device=device.type)
        model, vocab, _ = setup(name, args)
        model.train()
        for experiment in experiments:
            max_len = int(experiment.rsplit("_", 1)[1])
            shapes = sorted_batches(max_len, sizes["batch"], sizes["sort_batches"], seed=1)
            rate = time_updates(model, vocab, device, shapes, sizes["batch"], UPDATES)
            rates[experiment] = rate
            emit({"check": "train", "experiment": experiment, "size": sizes["size"],
                  "batch": sizes["batch"], "updates": UPDATES,
                  "mean_padded_tgt_len": round(float(np.mean([t for _, t in shapes])), 1),
                  "updates_per_s": round(rate, 2)})
        del model
    return rates


def projection(rates: dict[str, float]) -> dict:
    """Hours of each budgeted model (conf/scale/paper.yaml's update counts) at the rates."""
    budgets = OmegaConf.load(CONF / "scale" / "paper.yaml").trainer.max_steps_by_experiment
    hours = {e: round(int(n) / rates[e] / 3600, 2) for e, n in budgets.items()}
    return {"check": "projection", "budgets": dict(budgets),
            "updates_per_s": {e: round(r, 2) for e, r in rates.items()}, "hours": hours,
            "total_hours": round(sum(hours.values()), 2),
            "note": "training updates only; validation, checkpoints and data loading add to it"}


def decode_source(prepared: Path, n: int, vocab: int) -> tuple[list, list, str]:
    """(source id arrays, decoder-step caps, where from): the prepared test set, else synthetic."""
    try:
        from rnnsearch.data.parallel_files import load_split  # noqa: PLC0415

        test = load_split(prepared, "test")
        src = [np.minimum(np.asarray(s, np.int64), vocab - 1) for s in test.src[:n]]
        caps = [len(t) + 1 for t in test.tgt[:n]]  # + EOS
        if src:
            return src, caps, f"prepared test set {prepared} (first {len(src)} sentences)"
    except (FileNotFoundError, OSError, ValueError):
        pass
    src_len, tgt_len, where = newstest_lengths(n, seed=2)
    rng = np.random.default_rng(2)
    src = [rng.integers(4, vocab, size=int(k) - 1) for k in src_len]  # lengths include EOS
    return src, [int(k) for k in tgt_len], f"synthetic ids, newstest2014 lengths: {where}"


def decode_check(sizes: dict, device: torch.device, prepared: Path) -> dict:
    """Beam-10 decode of 50 sentences with a fresh RNNsearch, longest batches first, each
    hypothesis capped at its reference's length (random weights rarely emit EOS; lengths.py)."""
    args = argparse.Namespace(size=sizes["size"], seed=0, threads=0, encoder_cell="paper",
                              compile=False, no_fused_encoder=False, device=device.type)
    model, vocab, _ = setup("rnnsearch", args)
    model.eval()
    src, caps, where = decode_source(prepared, DECODE_SENTENCES, vocab)
    sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        for idx in batch_order([len(s) + 1 for s in src], sizes["batch"], "longest_first"):
            S = max(len(src[i]) for i in idx) + 1
            ids = torch.full((len(idx), S), PAD_ID, dtype=torch.long)  # (B, S)
            for row, i in enumerate(idx):
                ids[row, :len(src[i])] = torch.from_numpy(np.asarray(src[i], np.int64))
                ids[row, len(src[i])] = EOS_ID  # as the source collation appends it
            ids = ids.to(device)
            beam_search(model, ids, ids != PAD_ID, BEAM, torch.tensor([caps[i] for i in idx],
                                                                      device=device))
    sync(device)
    return {"check": "decode", "beam": BEAM, "sentences": len(src), "source": where,
            "seconds": round(time.perf_counter() - start, 2)}


def two_processes(trainer: str, budget: Budget, one: float | None) -> dict:
    """RNNsearch-50 updates/s of two preflight processes at once on one device, summed, against
    `one` process's (train_jobs=2 pays off only if the sum is clearly above it)."""
    cmd = [sys.executable, __file__, "--trainer", trainer, "--train-only", "rnnsearch_50"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO, env=child_env())
             for _ in range(2)]
    outs = [proc.communicate(timeout=max(budget.left(), 30))[0] for proc in procs]
    rates = [float(line.split()[-1]) for out in outs for line in out.splitlines()
             if line.startswith("rate ")]
    if any(proc.returncode for proc in procs) or len(rates) != 2:
        return {"check": "two_processes", "error": f"two processes: exit status "
                f"{[proc.returncode for proc in procs]}, rates {rates}"}
    return {"check": "two_processes", "experiment": "rnnsearch_50",
            "updates_per_s_each": [round(r, 2) for r in rates],
            "updates_per_s_sum": round(sum(rates), 2),
            "updates_per_s_one": None if one is None else round(one, 2)}


def main() -> int:
    """Run the checks in order; 0 if all passed, else 1 (2: no CUDA for --trainer gpu)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainer", choices=sorted(SIZES), default="gpu",
                        help="the device training will use (make TRAINER=...); cpu: smoke form")
    parser.add_argument("--budget-s", type=float, default=180.0, help="time limit (default 180)")
    parser.add_argument("--prepared", type=Path, default=REPO / "artifacts/prepared/wmt14_lium",
                        help="prepared corpus whose test set is decoded, when it exists")
    parser.add_argument("--two-processes", action="store_true",
                        help="also time two training processes sharing the device")
    parser.add_argument("--train-only", choices=[e for es in MODELS.values() for e in es],
                        help=argparse.SUPPRESS)  # a --two-processes child: print its rate
    args = parser.parse_args()
    budget, sizes = Budget(args.budget_s), SIZES[args.trainer]
    if sizes["device"] == "cuda" and not torch.cuda.is_available():
        emit({"check": "env", "error": f"--trainer {args.trainer}: torch {torch.__version__} "
              "sees no CUDA device (TRAINER=cpu runs the smoke form)"})
        return 2
    device = torch.device(sizes["device"])
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # trainer=gpu
    if args.train_only:
        return child_rate(args.train_only, sizes, device)
    from _common import device_name  # noqa: PLC0415

    emit({"check": "env", "trainer": args.trainer, "device": device_name(device),
          "torch": torch.__version__, "cuda": torch.version.cuda, "budget_s": budget.seconds})
    errors: list[str] = []
    rates: dict[str, float] = {}

    def train() -> None:
        rates.update(train_rates(sizes, device))
        emit(projection(rates))

    for name, step in (("train", train),
                       ("decode", lambda: emit(decode_check(sizes, device, args.prepared)))):
        try:
            step()
        except Exception as err:  # noqa: BLE001 -- any failure is reported and stops make
            errors.append(f"{name}: {type(err).__name__}: {err}")
            emit({"check": name, "error": errors[-1]})
    if args.two_processes:
        record = two_processes(args.trainer, budget, rates.get("rnnsearch_50"))
        errors += [record["error"]] if "error" in record else []
        emit(record)
    if sizes["device"] == "cuda":
        tests = gpu_tests(budget, est=0)
        emit(tests)
        if tests.get("error") or tests.get("failed") or tests.get("rc"):
            errors.append(f"gpu tests: {tests.get('error') or tests.get('failing')}")
    elapsed = round(time.monotonic() - budget.start, 1)
    if elapsed > budget.seconds:
        errors.append(f"took {elapsed} s, over the {budget.seconds:.0f} s budget")
    emit({"check": "summary", "ok": not errors, "errors": errors, "elapsed_s": elapsed})
    return 1 if errors else 0


def child_rate(experiment: str, sizes: dict, device: torch.device) -> int:
    """--train-only: one experiment's updates/s as a `rate <x>` line (for --two-processes)."""
    name = experiment.split("_")[0]
    args = argparse.Namespace(size=sizes["size"], seed=0, threads=0, encoder_cell="paper",
                              compile=False, no_fused_encoder=False, device=device.type)
    model, vocab, _ = setup(name, args)
    shapes = sorted_batches(int(experiment.rsplit("_", 1)[1]), sizes["batch"],
                            sizes["sort_batches"], seed=1)
    print(f"rate {time_updates(model.train(), vocab, device, shapes, sizes['batch'], UPDATES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
