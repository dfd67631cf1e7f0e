"""Training throughput of RNNsearch / RNNencdec: target tokens/s, updates/s, peak memory.

One update = teacher-forced forward, cross-entropy, backward, gradient-norm clip at 1 and an
Adadelta step (rho 0.95, eps 1e-6), as in Sec. 4.2 / App. B. Random word ids, every sentence
exactly --src-len / --tgt-len long (no padding), so the figures are per *real* target token.
Prints one JSON line per model. Example (H100 target: >= 10 updates/s for RNNsearch-50):

    python benchmarks/train_step.py --size paper --device cuda --batch 80 --steps 20
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
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

from rnnsearch.vocab import PAD_ID


def main() -> None:
    """Parse arguments, time the updates, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--tgt-len", type=int, default=50)
    args = parser.parse_args()
    if delegate_both(__file__, args):
        return
    model, vocab, device = setup(args.model, args)
    model.train()
    optim = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-6)
    B = args.batch
    src_ids = random_ids(B, args.src_len, vocab, device)  # (B, S)
    src_mask = torch.ones_like(src_ids, dtype=torch.bool)  # (B, S)
    tgt = random_ids(B, args.tgt_len + 1, vocab, device)  # (B, T + 1) = BOS-less toy target
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]  # (B, T) each

    def update() -> None:
        with autocast(args):
            logits = model(src_ids, src_mask, tgt_in)  # (B, T, V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), tgt_out.flatten(), ignore_index=PAD_ID)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        optim.zero_grad(set_to_none=True)

    sec = timed(update, args.steps, args.warmup, device)
    emit(
        {
            "bench": "train_step",
            **header(args.model, args, model, device),
            "tgt_len": args.tgt_len,
            "sec_per_update": round(sec, 4),
            "updates_per_s": round(1 / sec, 3),
            "tgt_tokens_per_s": round(B * args.tgt_len / sec, 1),
            **peak_memory(device),
        }
    )


if __name__ == "__main__":
    main()
