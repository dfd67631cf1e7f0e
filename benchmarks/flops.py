"""FLOPs per training update (analytic, from the model sizes) and the machine's sgemm peak.

FLOP count: every matrix product of the model counts 2 * m * n * k; element-wise work (gates,
tanh, maxout, softmax, Adadelta) and embedding look-ups count 0, so the figures are matmul
FLOPs only. One update = forward + backward, counted as **3 x the forward matmul FLOPs**: the
backward of y = x W computes dL/dx and dL/dW, each as large as the forward product (every
matmul input requires a gradient: the embeddings are trained; only the encoder's zero initial
state does not, a < 0.1 % difference at S = 50). `tests/benchmarks/test_flops.py` checks the
forward count against `torch.utils.flop_counter` on a built model.

sgemm peak: the best GFLOP/s of square fp32 products (`torch.mm`) at the thread count the
benchmark uses (`--threads`), the yardstick for "fraction of peak". On CUDA the same
measurement runs on the GPU, in the benchmark's dtype (fp32 without TF32 unless enabled, bf16).

    python benchmarks/flops.py --threads 2        # sgemm peak + FLOPs per paper-size update
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch


def forward_flops(cfg: Any, src_vocab: int, tgt_vocab: int, B: int, S: int, T: int) -> dict:
    """Forward matmul FLOPs of one teacher-forced batch, by part (src_vocab enters no product).

    Args:
        cfg: fields of `rnnsearch.config.ModelConfig` (emb_dim, hidden_dim, attn_dim,
            maxout_dim, maxout_pool, attention, bidirectional, readout_state, encdec_context).
        src_vocab: source vocabulary size (embedding look-ups: no FLOPs; kept for symmetry).
        tgt_vocab: V, the softmax layer's width.
        B: sentences; S: source length; T: target length (every sentence full length).

    Returns:
        FLOPs of `encoder`, `attention`, `decoder`, `readout` and their `total`.
    """
    del src_vocab
    E, H, A = cfg.emb_dim, cfg.hidden_dim, cfg.attn_dim
    L = cfg.maxout_dim * cfg.maxout_pool  # width of t~ before maxout (2l = 1000)
    D = 2 if cfg.bidirectional else 1
    C = D * H if cfg.attention else H  # context width: h_j = [h->; h<-] or c
    # readout_state=groundhog runs T - 1 gated updates (the last word is never consumed);
    # current / previous run T. Attention (c_i from s_{i-1}) runs T times in both.
    updates = T - 1 if getattr(cfg, "readout_state", "current") == "groundhog" else T
    # Encoder, per direction and source word: [W_r; W_z; W] E x_j, then [U_r; U_z] h and U (r*h).
    encoder = B * S * D * (2 * E * 3 * H + 2 * H * 2 * H + 2 * H * H)
    if not cfg.attention and getattr(cfg, "encdec_context", "tanh_layer") == "tanh_layer":
        encoder += B * 2 * H * H  # c = tanh(V h_Tx); encdec_context=last_state has no V
    attention = 0
    if cfg.attention:
        attention = B * S * 2 * C * A  # keys U_a h_j, once per sentence
        # per target position: W_a s_{i-1}, v_a^T tanh(.) over S positions, sum_j alpha_ij h_j
        attention += B * T * (2 * H * A + 2 * S * A + 2 * S * C)
    init = B * 2 * H * H  # s_0 = tanh(W_s h<-_1 + b) / tanh(W_s c + b)
    # Decoder, per gated update: [W..] E y, [C..] c_i, [U_r; U_z] s and U (r*s).
    decoder = init + B * updates * (2 * E * 3 * H + 2 * C * 3 * H + 2 * H * 2 * H + 2 * H * H)
    # Deep output at every position: U_o s + V_o E y + C_o c (to 2l), then W_o t (l -> V).
    readout = B * T * (2 * (H + E + C) * L + 2 * cfg.maxout_dim * tgt_vocab)
    parts = dict(encoder=encoder, attention=attention, decoder=decoder, readout=readout)
    return {**parts, "total": sum(parts.values())}


def update_flops(cfg: Any, src_vocab: int, tgt_vocab: int, B: int, S: int, T: int) -> int:
    """Matmul FLOPs of one update: 3 x forward (forward, dL/dinput, dL/dweight)."""
    return 3 * forward_flops(cfg, src_vocab, tgt_vocab, B, S, T)["total"]


def sgemm_peak(
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    sizes: tuple[int, ...] = (1024, 2048),
    seconds: float = 1.0,
) -> dict[str, Any]:
    """Best GFLOP/s of square `torch.mm` over `sizes`, each timed for about `seconds`.

    Returns:
        `sgemm_peak_gflops`, the `sgemm_n` that reached it, the dtype and the thread count.
    """
    best, best_n = 0.0, 0
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        torch.mm(a, b)  # warm-up: allocations, library dispatch, clocks
        _sync(device)
        reps, elapsed = 0, 0.0
        start = time.perf_counter()
        while elapsed < seconds or reps < 2:
            torch.mm(a, b)
            _sync(device)
            reps += 1
            elapsed = time.perf_counter() - start
        gflops = 2 * n**3 * reps / elapsed / 1e9
        if gflops > best:
            best, best_n = gflops, n
    return {
        "sgemm_peak_gflops": round(best, 1),
        "sgemm_n": best_n,
        "sgemm_dtype": str(dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    """Print the sgemm peak and the FLOPs per paper-size update of both models (JSON lines)."""
    from _common import device_name, model_config  # noqa: PLC0415 (script-only import)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--batch", type=int, default=80)
    parser.add_argument("--src-len", type=int, default=50)
    parser.add_argument("--tgt-len", type=int, default=50)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    peak = sgemm_peak(device, dtype, tuple(args.sizes))
    print(json.dumps({"bench": "sgemm", "device": args.device, "device_name": device_name(device),
                      "torch": torch.__version__, **peak}), flush=True)
    size_args = argparse.Namespace(size="paper", encoder_cell="paper", compile=False,
                                   no_fused_encoder=False)
    for name in ("rnnsearch", "rnnencdec"):
        cfg, vocab = model_config(name, size_args)
        fwd = forward_flops(cfg, vocab, vocab, args.batch, args.src_len, args.tgt_len)
        print(json.dumps({"bench": "flops", "model": name, "size": "paper", "batch": args.batch,
                          "src_len": args.src_len, "tgt_len": args.tgt_len,
                          "forward_flops": fwd, "update_flops": 3 * fwd["total"]}), flush=True)


if __name__ == "__main__":
    main()
