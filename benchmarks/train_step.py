"""Training throughput of RNNsearch / RNNencdec: updates/s, target tokens/s, FLOP/s, peak memory.

One update = teacher-forced forward, cross-entropy, backward, gradient-norm clip at 1 and an
Adadelta step (rho 0.95, eps 1e-6), as in Sec. 4.2 / App. B. Random word ids, every sentence
exactly --src-len / --tgt-len long (no padding), so the figures are per *real* target token.
`flops_per_update` is the analytic matmul count of flops.py (3 x forward) and `achieved_gflops`
divides it by the measured time; `--sgemm` also measures the machine's matmul peak in the same
process at the same thread count and dtype and reports `fraction_of_sgemm_peak`.
`--cuda-graph` records the whole update in one CUDA graph and replays it (CUDA only).
Prints one JSON line per model. Example (H100 target: >= 25 updates/s for RNNsearch-50):

    python benchmarks/train_step.py --size paper --device cuda --batch 80 --steps 20 --cuda-graph
"""

from __future__ import annotations

import argparse

import torch
from _common import (
    add_common_args,
    cuda_graphed,
    delegate_both,
    emit,
    header,
    make_update,
    model_config,
    paper_optimizer,
    peak_memory,
    random_ids,
    setup,
    timed,
)
from flops import sgemm_peak, update_flops
from op_count import count_aten_ops


def main() -> None:
    """Parse arguments, time the updates, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--tgt-len", type=int, default=50)
    parser.add_argument("--cuda-graph", action="store_true", help="replay one CUDA graph")
    parser.add_argument("--sgemm", action="store_true", help="also measure the sgemm peak")
    args = parser.parse_args()
    if args.cuda_graph and args.device != "cuda":
        parser.error("--cuda-graph needs --device cuda")
    if delegate_both(__file__, args):
        return
    model, vocab, device = setup(args.model, args)
    model.train()
    optim = paper_optimizer(model, capturable=args.cuda_graph)
    B = args.batch
    src_ids = random_ids(B, args.src_len, vocab, device)  # (B, S)
    src_mask = torch.ones_like(src_ids, dtype=torch.bool)  # (B, S)
    tgt = random_ids(B, args.tgt_len + 1, vocab, device)  # (B, T + 1) = BOS-less toy target
    batch = (src_ids, src_mask, tgt[:, :-1], tgt[:, 1:])  # tgt_in, tgt_out: (B, T) each
    eager = make_update(model, optim, batch, args.dtype, cache_enabled=not args.cuda_graph)
    update = cuda_graphed(eager, warmup=max(1, args.warmup)) if args.cuda_graph else eager
    sec = timed(update, args.steps, args.warmup, device)
    ops = None if args.compile else count_aten_ops(eager)  # one more update, after the timing
    cfg, _ = model_config(args.model, args)
    flops = update_flops(cfg, vocab, vocab, B, args.src_len, args.tgt_len)
    record = {
        "bench": "train_step",
        **header(args.model, args, model, device),
        "tgt_len": args.tgt_len,
        "cuda_graph": args.cuda_graph,
        "sec_per_update": round(sec, 4),
        "updates_per_s": round(1 / sec, 3),
        "tgt_tokens_per_s": round(B * args.tgt_len / sec, 1),
        "flops_per_update": flops,
        "achieved_gflops": round(flops / sec / 1e9, 1),
        "aten_ops_per_update": ops,  # eager: forward, backward, clip, Adadelta (op_count.py)
        **peak_memory(device),
    }
    if args.sgemm:
        dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
        peak = sgemm_peak(device, dtype)
        record.update(peak, fraction_of_sgemm_peak=round(
            record["achieved_gflops"] / peak["sgemm_peak_gflops"], 3))
    emit(record)


if __name__ == "__main__":
    main()
