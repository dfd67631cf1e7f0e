"""Interleaved in-process A/B of speed switches: reference model vs switched-on model(s).

Every variant is built from the same seed and fed the same random batch; the timed calls
alternate between variants round by round, so machine noise (a shared 2-core box) hits all of
them alike. Prints one JSON line: the median seconds per call of each variant and its ratio to
the reference. `--bench train` times `_common.make_update` (forward, loss, backward, clip,
Adadelta); `--bench decode` times `search.beam_search` (beam --beam, cap --src-len). A variant
may also name the optimizer step: `optim=foreach`, `optim=fused` (Adam only), `optim=compiled`
(`torch.compile` of `optimizer.step`), with `optim=adam` / `optim=adam-fused` etc. for Adam
instead of Adadelta. Examples:

    python benchmarks/ab.py --size peer --threads 2 --bench decode --rounds 5 \\
        --variant logistic_attention --variant logistic_attention,grouped_beam_source
    python benchmarks/ab.py --size peer --threads 2 --rounds 20 --variant optim=foreach \\
        --variant optim=compiled
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from _common import (
    SPEED_SWITCHES,
    add_common_args,
    emit,
    make_update,
    random_ids,
    setup,
)

from rnnsearch.decoding.search import beam_search


def build(args: argparse.Namespace, switches: list[str]) -> Callable[[], object]:
    """One variant's timed call, on its own model (same seed, same batch).

    The reference has every speed switch off; a variant turns on the ones it names.
    """
    for name in SPEED_SWITCHES:
        setattr(args, name, name in switches)
    model, vocab, device = setup("rnnsearch", args)
    torch.manual_seed(args.seed + 1)
    B, S = args.batch, args.src_len
    src_ids = random_ids(B, S, vocab, device)  # (B, S)
    src_mask = torch.ones_like(src_ids, dtype=torch.bool)
    if args.bench == "decode":
        model.eval()

        def decode() -> object:
            with torch.inference_mode():
                return beam_search(model, src_ids, src_mask, args.beam, S)

        return decode
    model.train()
    tgt = random_ids(B, args.tgt_len + 1, vocab, device)  # (B, T + 1)
    optim = [s.removeprefix("optim=") for s in switches if s.startswith("optim=")]
    optimizer = make_optimizer(model, optim[0] if optim else "eager")
    return make_update(model, optimizer, (src_ids, src_mask, tgt[:, :-1], tgt[:, 1:]))


def make_optimizer(model: torch.nn.Module, kind: str) -> torch.optim.Optimizer:
    """Adadelta (App. B.2), or Adam for "adam..."; the step "eager" (torch's CPU default, a
    per-parameter loop), "foreach", "fused" (Adam) or "compiled" (torch.compile of the step)."""
    name, _, step = kind.partition("-") if kind.startswith("adam") else ("adadelta", "", kind)
    step = step or "eager"
    impl = {"foreach": {"foreach": True}, "fused": {"fused": True}}.get(step, {})
    if name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **impl)
    else:
        optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-6, **impl)
    if step == "compiled":
        optimizer.step = torch.compile(optimizer.step)
    return optimizer


def main() -> None:
    """Parse arguments, alternate the variants, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--bench", choices=["train", "decode"], default="train")
    parser.add_argument("--variant", action="append", default=[],
                        help="comma-separated switches, e.g. scan_backward (repeatable)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--tgt-len", type=int, default=50)
    parser.add_argument("--beam", type=int, default=12)
    parser.set_defaults(batch=16, size="peer")
    args = parser.parse_args()
    variants = {"reference": []} | {v: v.split(",") for v in args.variant}
    calls = {name: build(args, switches) for name, switches in variants.items()}
    for call in calls.values():
        for _ in range(args.warmup):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    emit({
        "bench": f"ab_{args.bench}", "size": args.size, "threads": torch.get_num_threads(),
        "batch": args.batch, "rounds": args.rounds,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "speedup": {k: round(med["reference"] / v, 3) for k, v in med.items()},
    })


if __name__ == "__main__":
    main()
