"""Beam-search decoding throughput (sentences/s) with `rnnsearch.search.beam_search`.

Freshly initialised weights and random source ids. The search runs until every hypothesis has
emitted EOS or reached the cap (--max-len, default --src-len); `decoder_steps` reports how many
`step` calls a batch took (a batch costs about the same per step whatever its beams hold), so
compare runs at equal steps. Prints one JSON line per model, with the projected time for the
3003 sentences of news-test-2014. Example (H100 target: < 2 min):

    python benchmarks/decode.py --size paper --device cuda --batch 32 --beam 12 --steps 5
"""

from __future__ import annotations

import argparse

import torch
from _common import (
    add_common_args,
    autocast,
    delegate_both,
    emit,
    header,
    peak_memory,
    random_ids,
    setup,
    timed,
)

from rnnsearch.search import beam_search

N_TEST = 3003  # news-test-2014 (Sec. 4.1)


class CountingModel:
    """The Seq2Seq protocol, counting `step` calls."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.steps = model, 0
        self.encode, self.init_state = model.encode, model.init_state

    def step(self, *args):  # noqa: D102
        self.steps += 1
        return self.model.step(*args)


def main() -> None:
    """Parse arguments, time beam search on --steps batches, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.set_defaults(batch=32)
    parser.add_argument("--beam", type=int, default=12)
    parser.add_argument("--max-len", type=int, default=0, help="length cap (0: --src-len)")
    args = parser.parse_args()
    if delegate_both(__file__, args):
        return
    model, vocab, device = setup(args.model, args)
    model.eval()
    src_ids = random_ids(args.batch, args.src_len, vocab, device)  # (B, S)
    src_mask = torch.ones_like(src_ids, dtype=torch.bool)
    max_len = args.max_len or args.src_len
    counting = CountingModel(model)

    def decode() -> None:
        counting.steps = 0
        with torch.inference_mode(), autocast(args):
            beam_search(counting, src_ids, src_mask, args.beam, max_len)

    sec = timed(decode, args.steps, args.warmup, device)
    sents_per_s = args.batch / sec
    emit(
        {
            "bench": "decode",
            **header(args.model, args, model, device),
            "beam": args.beam,
            "max_len": max_len,
            "decoder_steps": counting.steps,  # of the last timed batch
            "sec_per_batch": round(sec, 4),
            "sentences_per_s": round(sents_per_s, 3),
            "projected_3003_s": round(N_TEST / sents_per_s, 1),
            **peak_memory(device),
        }
    )


if __name__ == "__main__":
    main()
