"""Beam-search decoding throughput (sentences/s) with `rnnsearch.decoding.search.beam_search`.

Freshly initialised weights and random source ids. The search runs until every hypothesis has
emitted EOS or reached the cap (--max-len, default --src-len); `decoder_steps` reports how many
`step` calls a batch took (a batch costs about the same per step whatever its beams hold), so
compare runs at equal steps. Prints one JSON line per model, with the projected time for the
3003 sentences of news-test-2014.

`--sentences N` decodes a whole synthetic test set instead: N sentences with newstest2014's
length distribution (lengths.py), sorted by length and cut into batches of --batch as
translate.py does, each hypothesis capped at its reference length (+ EOS), the steps a model
that stops where the reference stops would take (random weights rarely emit EOS). It reports
the measured `corpus_s`. Example (H100 target: newstest2014 at beam 12 in < 60 s):

    python benchmarks/decode.py --size paper --device cuda --batch 80 --sentences 3003
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
from lengths import N_TEST, newstest_lengths
from op_count import OpCounter

from rnnsearch.data.vocab import PAD_ID
from rnnsearch.decoding.batches import batch_order
from rnnsearch.decoding.search import beam_search


class CountingModel:
    """The Seq2Seq protocol, counting `step` calls (and, given an `OpCounter`, their ATen ops)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.steps = model, 0
        self.encode, self.init_state = model.encode, model.init_state
        self.ops: OpCounter | None = None
        self.step_ops = 0

    def step(self, *args):  # noqa: D102
        self.steps += 1
        if self.ops is None:
            return self.model.step(*args)
        before = self.ops.count
        out = self.model.step(*args)
        self.step_ops += self.ops.count - before
        return out


def count_decode_ops(counting: CountingModel, decode) -> dict:
    """ATen ops of one more `decode()` (op_count.py): per decoder step, the model's and all.

    `aten_ops_per_step` divides every op of the search (encoder, search bookkeeping, model
    steps) by the decoder steps; `aten_ops_model_step` counts `model.step` alone.
    """
    counting.ops, counting.step_ops = OpCounter(), 0
    with counting.ops:
        decode()
    steps, total = counting.steps, counting.ops.count
    counting.ops = None
    return {"aten_ops_per_step": round(total / steps, 1),
            "aten_ops_model_step": round(counting.step_ops / steps, 1)}


def corpus_batches(
    args: argparse.Namespace, vocab: int, device: torch.device
) -> tuple[list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], dict]:
    """--sentences random-id sentences with newstest2014 lengths, in length-sorted batches.

    Returns [(src_ids (B, S), src_mask (B, S), caps (B,))], and fields describing the lengths.
    """
    src_len, tgt_len, where = newstest_lengths(args.sentences, args.seed)
    batches = []
    for idx in batch_order(src_len.tolist(), args.batch, "longest_first"):  # as translate.py
        lengths = torch.as_tensor(src_len[idx], device=device)  # (B,)
        S = int(lengths.max())
        mask = torch.arange(S, device=device)[None, :] < lengths[:, None]  # (B, S)
        ids = random_ids(len(idx), S, vocab, device).masked_fill(~mask, PAD_ID)  # (B, S)
        batches.append((ids, mask, torch.as_tensor(tgt_len[idx], device=device)))
    info = {"lengths_from": where, "mean_src_len": round(float(src_len.mean()), 2),
            "mean_tgt_steps": round(float(tgt_len.mean()), 2), "max_src_len": int(src_len.max())}
    return batches, info


def main() -> None:
    """Parse arguments, time beam search on --steps batches (or a corpus), print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.set_defaults(batch=32)
    parser.add_argument("--beam", type=int, default=12)
    parser.add_argument("--max-len", type=int, default=0, help="length cap (0: --src-len)")
    parser.add_argument("--sentences", type=int, default=0,
                        help="decode this many newstest2014-length sentences (0: fixed batches)")
    args = parser.parse_args()
    if delegate_both(__file__, args):
        return
    model, vocab, device = setup(args.model, args)
    model.eval()
    counting = CountingModel(model)
    if args.sentences:
        fixed = ("src_len", "steps")  # lengths come from lengths.py; the corpus runs once
        fields = header(args.model, args, model, device)
        fields = {k: v for k, v in fields.items() if k not in fixed}
        emit({"bench": "decode_corpus", **fields, **decode_corpus(args, counting, vocab, device)})
        return
    src_ids = random_ids(args.batch, args.src_len, vocab, device)  # (B, S)
    src_mask = torch.ones_like(src_ids, dtype=torch.bool)
    max_len = args.max_len or args.src_len

    def decode() -> None:
        counting.steps = 0
        with torch.inference_mode(), autocast(args):
            beam_search(counting, src_ids, src_mask, args.beam, max_len)

    sec = timed(decode, args.steps, args.warmup, device)
    sents_per_s = args.batch / sec
    ops = {} if args.compile else count_decode_ops(counting, decode)  # after the timing
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
            **ops,
            **peak_memory(device),
        }
    )


def decode_corpus(
    args: argparse.Namespace, counting: CountingModel, vocab: int, device: torch.device
) -> dict:
    """Decode every batch of `corpus_batches` once (after --warmup untimed batches)."""
    batches, info = corpus_batches(args, vocab, device)

    def run(subset: list) -> None:
        with torch.inference_mode(), autocast(args):
            for ids, mask, caps in subset:
                beam_search(counting, ids, mask, args.beam, caps)

    run(batches[: args.warmup])  # the longest batches: allocations, compilation, clocks
    counting.steps = 0
    sec = timed(lambda: run(batches), 1, 0, device)
    return {
        "beam": args.beam,
        "sentences": args.sentences,
        "n_batches": len(batches),
        **info,
        "decoder_steps": counting.steps,  # summed over the corpus
        "corpus_s": round(sec, 2),
        "sentences_per_s": round(args.sentences / sec, 2),
        "projected_3003_s": round(sec * N_TEST / args.sentences, 1),
        **peak_memory(device),
    }


if __name__ == "__main__":
    main()
