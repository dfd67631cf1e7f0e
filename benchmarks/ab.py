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

`eager_loops` in a variant is not a model switch: that variant runs scan.py's loops over time
eagerly instead of as TorchScript (models/scan_loops.py; the same arithmetic, bit for bit).

`--search-from REV` (decode) adds a twin of every variant, `<variant>@REV`, that runs the
`beam_search` of search.py as it was at git revision REV on the same model and batch, and
reports `search_speedup` (the twin's median over the variant's) and `same_output` (the two
returned the same ids, scores and attention). `--weight-std` redraws every weight from
N(0, std^2): the paper's init gives near-uniform word distributions (float32 ties at the top of
most beams), larger weights peaked ones, as after training.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

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
from rnnsearch.models import scan_loops

EAGER_LOOPS = "eager_loops"


def search_at(rev: str) -> Callable[..., object]:
    """`beam_search` of src/rnnsearch/decoding/search.py as it was at git revision `rev`, with
    that revision's beam_select.py where it had one."""
    search = _module_at(rev, "search")
    if "beam_select" in search.__dict__:
        search.beam_select = _module_at(rev, "beam_select")  # read at call time
    return search.beam_search


def _module_at(rev: str, name: str) -> types.ModuleType:
    """src/rnnsearch/decoding/<name>.py at git revision `rev`, as a fresh module."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "-C", str(root), "show", f"{rev}:src/rnnsearch/decoding/{name}.py"],
        capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(f"{name}_at_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{name}.py", "exec"), module.__dict__)  # noqa: S102
    return module


def same_output(a: object, b: object) -> bool:
    """Two `SearchResult`s with equal ids, scores, ended flags and attention arrays."""
    attn_equal = all((x is None and y is None) or bool((x == y).all())
                     for x, y in zip(a.attention, b.attention, strict=True))
    return (a.ids, a.scores, a.ended) == (b.ids, b.scores, b.ended) and attn_equal


def build(
    args: argparse.Namespace, switches: list[str], search: Callable[..., object] = beam_search
) -> Callable[[], object]:
    """One variant's timed call, on its own model (same seed, same batch).

    The reference has every speed switch off; a variant turns on the ones it names. `search`:
    the beam search a decode variant runs.
    """
    for name in SPEED_SWITCHES:
        setattr(args, name, name in switches)
    model, vocab, device = setup("rnnsearch", args)
    if args.weight_std:  # peaked, trained-like word distributions instead of near-uniform ones
        with torch.no_grad():
            for param in model.parameters():
                param.normal_(0.0, args.weight_std)
    torch.manual_seed(args.seed + 1)
    B, S = args.batch, args.src_len
    src_ids = random_ids(B, S, vocab, device)  # (B, S)
    src_mask = torch.ones_like(src_ids, dtype=torch.bool)
    if args.bench == "decode":
        model.eval()

        def decode() -> object:
            with torch.inference_mode():
                return search(model, src_ids, src_mask, args.beam, S)

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


def with_loops(call: Callable[[], object], script: bool) -> Callable[[], object]:
    """`call` with scan.py's loops run as TorchScript (`script`) or eagerly."""

    def run() -> object:
        scan_loops.SCRIPT = script
        return call()

    return run


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
    parser.add_argument("--search-from", metavar="REV",
                        help="decode: also time each variant with search.py at git revision REV")
    parser.add_argument("--weight-std", type=float, default=0.0,
                        help="redraw every weight from N(0, std^2) (0: the paper's init)")
    parser.set_defaults(batch=16, size="peer")
    args = parser.parse_args()
    if args.search_from and args.bench != "decode":
        parser.error("--search-from needs --bench decode")
    variants = {"reference": []} | {v: v.split(",") for v in args.variant}
    calls = {
        name: with_loops(build(args, switches), EAGER_LOOPS not in switches)
        for name, switches in variants.items()
    }
    twins = {}
    if args.search_from:
        old = search_at(args.search_from)
        twins = {f"{name}@{args.search_from}": name for name in variants}
        calls |= {twin: with_loops(build(args, variants[name], old),
                                   EAGER_LOOPS not in variants[name])
                  for twin, name in twins.items()}
    results = {}
    for name, call in calls.items():
        for _ in range(args.warmup):
            results[name] = call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            results[name] = call()
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    emit({
        "bench": f"ab_{args.bench}", "size": args.size, "threads": torch.get_num_threads(),
        "batch": args.batch, "rounds": args.rounds, "weight_std": args.weight_std,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "speedup": {k: round(med["reference"] / v, 3) for k, v in med.items()},
        **({"search_speedup": {name: round(med[twin] / med[name], 3)
                               for twin, name in twins.items()},
            "same_output": {name: same_output(results[twin], results[name])
                            for twin, name in twins.items()}} if twins else {}),
    })


if __name__ == "__main__":
    main()
