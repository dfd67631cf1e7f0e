"""Where a beam-search batch's time goes, and the least an exact search could take here.

decode.py's input (random source ids, freshly initialised weights, 50 steps), timed in one
process and interleaved over --rounds so machine drift hits every part alike (medians):

- `search_s`: `beam_search`, as decode.py times it;
- `select_s`: the part of that search spent choosing the beam's next hypotheses
  (`beam_select`'s two-stage and single top-k, whichever the search ran), timed inside it;
- `model_s`: the model alone: encode, `init_state` and as many `model.step` calls on the B*K
  rows as the search took, each state reordered (`index_select`) as the search does, no search;
- `model_compiled_s`: the same with `model.step` compiled whole by inductor
  (`torch.compile(fullgraph=True)`: attention energies, gated update, deep output and
  log-softmax fused); null, with `compile_error`, where it cannot compile (no C++ compiler);
  `search_compiled_s` is `beam_search` with that compiled step (`compiled_same_output`: the
  same ids and scores as the eager search);
- `floor_s` = the faster model time + `select_s`: an exact search that spent nothing on its
  bookkeeping would still take this long; `tied_rows` is the share of beam rows whose K + 1 best
  words hold two equal values (those send the selection to the single top-k).

Example (the peer comparison's decoding row):

    python benchmarks/decode_floor.py --size peer --model rnnsearch --batch 32 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace

import torch
from _common import add_common_args, emit, header, random_ids, setup
from decode import CountingModel

from rnnsearch.decoding import beam_select
from rnnsearch.decoding.search import SearchResult, beam_search


class SelectTimer:
    """Wraps `beam_select`'s two selections (as search.py calls them) to sum their time."""

    NAMES = ("select_topk_two_stage", "select_topk_checked")

    def __init__(self) -> None:
        self.seconds, self.rows, self.tied = 0.0, 0, 0
        self.originals = {name: getattr(beam_select, name) for name in self.NAMES}

    def __enter__(self) -> SelectTimer:
        for name, fn in self.originals.items():
            setattr(beam_select, name, self._timed(fn))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, fn in self.originals.items():
            setattr(beam_select, name, fn)

    def _timed(self, fn):
        def run(scores, log_probs, *rest):
            self._count_ties(log_probs, scores.size(1))
            start = time.perf_counter()
            out = fn(scores, log_probs, *rest)
            self.seconds += time.perf_counter() - start
            return out
        return run

    def _count_ties(self, log_probs: torch.Tensor, K: int) -> None:
        """Rows whose K + 1 best words hold two equal values. Shapes: log_probs (B*K, V)."""
        best = log_probs.topk(min(K + 1, log_probs.size(-1)), dim=-1).values  # (B*K, K+1)
        self.tied += int((best[:, :-1] == best[:, 1:]).any(dim=1).sum())
        self.rows += log_probs.size(0)


def main() -> None:
    """Parse arguments, time the parts in --rounds interleaved rounds, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.set_defaults(batch=32, model="rnnsearch")
    parser.add_argument("--beam", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-compiled", action="store_true",
                        help="skip the compiled step (its two timings)")
    args = parser.parse_args()
    model, vocab, device = setup(args.model, args)
    model.eval()
    torch.set_grad_enabled(False)
    B, K = args.batch, args.beam
    src_ids = random_ids(B, args.src_len, vocab, device)  # (B, S)
    src_mask = torch.ones_like(src_ids, dtype=torch.bool)
    steps = [0]

    def search(step=model.step) -> SearchResult:
        counting = CountingModel(SimpleNamespace(  # the model's protocol, with `step` swapped
            encode=model.encode, init_state=model.init_state, step=step))
        result = beam_search(counting, src_ids, src_mask, K, args.src_len)
        steps[0] = counting.steps
        return result

    eager = search()  # warm-up, and the step count the model-alone loops repeat
    expand = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,)
    rows = torch.arange(B * K, device=device)  # (B*K,): every row kept, as a full beam is
    y = random_ids(B * K, 1, vocab, device).view(-1)  # (B*K,)

    def model_alone(step) -> None:
        enc = model.encode(src_ids, src_mask).index_select(expand)  # B*K rows
        state = model.init_state(enc)
        for _ in range(steps[0]):
            state = step(y, state, enc).state.index_select(rows)

    parts = {"search_s": search, "model_s": lambda: model_alone(model.step)}
    fields = {"compile_error": None, "compiled_same_output": None}
    if not args.no_compiled:
        compiled = torch.compile(model.step, dynamic=False, fullgraph=True)
        try:
            model_alone(compiled)  # compiles here, untimed
            again = search(compiled)
            fields["compiled_same_output"] = (again.ids, again.scores) == (eager.ids, eager.scores)
            parts["model_compiled_s"] = lambda: model_alone(compiled)
            parts["search_compiled_s"] = lambda: search(compiled)
        except Exception as err:  # noqa: BLE001 (inductor's errors: no compiler, ...)
            fields["compile_error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    times: dict[str, list[float]] = {name: [] for name in [*parts, "select_s"]}
    timer = SelectTimer()
    for _ in range(args.rounds):
        for name, part in parts.items():
            start = time.perf_counter()
            part()
            times[name].append(time.perf_counter() - start)
        with timer:
            before = timer.seconds
            search()
        times["select_s"].append(timer.seconds - before)
    med = {name: round(statistics.median(v), 4) for name, v in times.items()}
    fastest_model = min(med["model_s"], med.get("model_compiled_s", med["model_s"]))
    emit({"bench": "decode_floor", **header(args.model, args, model, device), "beam": K,
          "decoder_steps": steps[0], "rounds": args.rounds, **med,
          "model_compiled_s": med.get("model_compiled_s"),
          "search_compiled_s": med.get("search_compiled_s"), **fields,
          "floor_s": round(fastest_model + med["select_s"], 4),
          "tied_rows": round(timer.tied / max(1, timer.rows), 3)})


if __name__ == "__main__":
    main()
