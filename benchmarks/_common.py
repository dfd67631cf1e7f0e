"""Shared helpers of the benchmark scripts: model presets, devices, timing and memory.

Not part of the package: benchmarks may use OmegaConf (to read conf/model/*.yaml and
conf/scale/demo.yaml, so the sizes come from the same files training uses).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from rnnsearch.config import ModelConfig
from rnnsearch.data.vocab import PAD_ID
from rnnsearch.host_memory import keep_freed_memory
from rnnsearch.models import Seq2Seq, build_model

CONF = Path(__file__).resolve().parents[1] / "conf"
TINY = dict(emb_dim=16, hidden_dim=32, attn_dim=32, maxout_dim=16)
# JoeyNMT peer comparison (../shared/peerbench, joey_train.py "demo": emb 32, hidden 64, vocab
# 1000). Joey has no separate attention or maxout size: its Bahdanau attention is hidden-wide
# (A = H) and its output layer is H wide, so A = 64 and M = 32 (2M = 64 maxout pre-activations).
PEER = dict(emb_dim=32, hidden_dim=64, attn_dim=64, maxout_dim=32)
PEER_VOCAB = 1000
SPEED_SWITCHES = ("scan_backward", "logistic_attention", "grouped_beam_source", "fused_output_loss")
FIRST_WORD_ID = 4  # ids 0..3 are PAD, BOS, EOS, UNK (rnnsearch.data.vocab)


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Arguments both scripts share."""
    parser.add_argument("--model", choices=["rnnsearch", "rnnencdec", "both"], default="both")
    parser.add_argument("--size", choices=["paper", "demo", "peer", "tiny"], default="demo")
    parser.add_argument("--batch", type=int, default=80)
    parser.add_argument("--src-len", type=int, default=50)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--encoder-cell", choices=["paper", "cudnn"], default="paper")
    parser.add_argument("--no-fused-encoder", action="store_true", help="reference encoder loop")
    parser.add_argument("--compile", action="store_true", help="model.compile=true")
    # The fast paths proven equal to the reference: default = conf/model/*.yaml (on);
    # --no-scan-backward --no-logistic-attention --no-grouped-beam-source = the reference loops.
    for switch in SPEED_SWITCHES:
        parser.add_argument(f"--{switch.replace('_', '-')}", action=argparse.BooleanOptionalAction,
                            default=None, help=f"model.{switch} (default: conf/model)")
    parser.add_argument("--keep-freed-memory", action=argparse.BooleanOptionalAction,
                        default=bool(OmegaConf.load(CONF / "config.yaml").keep_freed_memory),
                        help="glibc malloc keeps freed memory (default: conf/config.yaml)")
    parser.add_argument("--steps", type=int, default=5, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--seed", type=int, default=0)


def model_config(name: str, args: argparse.Namespace) -> tuple[ModelConfig, int]:
    """(ModelConfig, vocab size) for a preset: paper = conf/model + conf/speed/fast, demo = +
    conf/scale/demo."""
    yaml = OmegaConf.load(CONF / "model" / f"{name}.yaml")
    yaml.pop("defaults", None)
    speed = OmegaConf.load(CONF / "speed" / "fast.yaml")  # conf/config.yaml's default
    cfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), yaml, speed)
    vocab = 30_000  # Sec. 4.1 shortlist
    if args.size == "demo":
        scale = OmegaConf.load(CONF / "scale" / "demo.yaml")
        cfg = OmegaConf.merge(cfg, scale.model)
        vocab = int(scale.data.vocab_size)
    elif args.size == "peer":
        cfg = OmegaConf.merge(cfg, PEER)
        vocab = PEER_VOCAB
    elif args.size == "tiny":
        cfg = OmegaConf.merge(cfg, TINY)
        vocab = 100
    switches = dict(
        encoder_cell=args.encoder_cell,
        compile=args.compile,
        fused_encoder=not args.no_fused_encoder,
    )
    for switch in SPEED_SWITCHES:  # None (or absent from hand-built args): keep conf/model's
        if getattr(args, switch, None) is not None:
            switches[switch] = getattr(args, switch)
    return OmegaConf.to_object(OmegaConf.merge(cfg, switches)), vocab


def setup(name: str, args: argparse.Namespace) -> tuple[Seq2Seq, int, torch.device]:
    """Seed, threads, malloc, model on the device; returns (model, vocab size, device)."""
    keep_freed_memory(getattr(args, "keep_freed_memory", False))  # as train and translate do
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg, vocab = model_config(name, args)
    return build_model(cfg, vocab, vocab).to(device), vocab, device


def random_ids(B: int, L: int, vocab: int, device: torch.device) -> torch.Tensor:
    """Random word ids (no specials): (B, L)."""
    return torch.randint(FIRST_WORD_ID, vocab, (B, L), device=device)


def autocast(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """bf16 autocast for --dtype bf16; a no-op otherwise."""
    return autocast_for(args.dtype, args.device)


def autocast_for(
    dtype: str, device_type: str, cache_enabled: bool = True
) -> contextlib.AbstractContextManager:
    """bf16 autocast for dtype "bf16"; a no-op for "fp32". A CUDA graph capture needs
    cache_enabled=False (PyTorch's CUDA-graph notes: cast weights must not be cached)."""
    if dtype == "bf16":
        return torch.autocast(device_type, dtype=torch.bfloat16, cache_enabled=cache_enabled)
    return contextlib.nullcontext()


def paper_optimizer(model: torch.nn.Module, capturable: bool = False) -> torch.optim.Adadelta:
    """Adadelta as in App. B.2 (rho 0.95, eps 1e-6, lr 1); capturable for CUDA graphs."""
    return torch.optim.Adadelta(
        model.parameters(), lr=1.0, rho=0.95, eps=1e-6, capturable=capturable
    )


def make_update(
    model: Seq2Seq,
    optim: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    dtype: str = "fp32",
    cache_enabled: bool = True,
) -> Callable[[], torch.Tensor]:
    """One update as a closure: forward, cross-entropy, backward, clip 1, Adadelta step.
    With `model.fused_output_loss` the loss is `Seq2Seq.summed_nll` over the real tokens (no
    (B, T, V) logits), divided by their count: the same mean as `F.cross_entropy`'s.

    The gradients are reset (set to None) *before* the forward, so the same closure can be
    captured in a CUDA graph (the backward then allocates them inside the graph's pool).
    Returns the loss tensor without reading it on the host (no device sync).

    Shapes: batch = src_ids (B, S), src_mask (B, S) bool, tgt_in (B, T), tgt_out (B, T)
    """
    src_ids, src_mask, tgt_in, tgt_out = batch
    device_type = src_ids.device.type
    real_tokens = (tgt_out != PAD_ID).sum()  # ()

    def update() -> torch.Tensor:
        optim.zero_grad(set_to_none=True)
        with autocast_for(dtype, device_type, cache_enabled):
            if model.fused_output_loss:
                loss = model.summed_nll(src_ids, src_mask, tgt_in, tgt_out, PAD_ID) / real_tokens
            else:
                logits = model(src_ids, src_mask, tgt_in)  # (B, T, V)
        if not model.fused_output_loss:
            logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 -> fp32
            loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD_ID)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        return loss.detach()

    return update


def cuda_graphed(update: Callable[[], torch.Tensor], warmup: int = 3) -> Callable[[], torch.Tensor]:
    """Capture a whole update in one CUDA graph; the returned function replays it.

    `update` must read static tensors (fixed shapes, same storage every call) and must come
    from `make_update(..., cache_enabled=False)` with a capturable optimizer. The `warmup`
    eager calls run on a side stream first (PyTorch's whole-network capture recipe) and do
    update the weights. The encoder skips its host-syncing mask check by itself while a
    stream is capturing (`Encoder._check_shapes`); it has run in the warm-up calls.
    """
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            update()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss = update()

    def replay() -> torch.Tensor:
        graph.replay()
        return static_loss

    return replay


def sync(device: torch.device) -> None:
    """Wait for queued kernels so wall-clock time covers them."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / max(1, steps)


def peak_memory(device: torch.device) -> dict[str, object]:
    """CUDA: max_memory_allocated over the timed calls. CPU: the process's peak RSS
    (resource.getrusage ru_maxrss, whole process lifetime, Python and torch included)."""
    if device.type == "cuda":
        mb = torch.cuda.max_memory_allocated(device) / 2**20
        return {"peak_mem_mb": round(mb, 1), "mem_kind": "cuda_max_memory_allocated"}
    mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"peak_mem_mb": round(mb, 1), "mem_kind": "cpu_peak_rss"}


def device_name(device: torch.device) -> str:
    """GPU name, or the CPU model string."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "cpu"


def header(name: str, args: argparse.Namespace, model: Seq2Seq, device: torch.device) -> dict:
    """Fields every JSON line carries (the switches as the model was built: conf/model + flags)."""
    cfg, _ = model_config(name, args)
    return {
        "model": name,
        "size": args.size,
        "params": sum(p.numel() for p in model.parameters()),
        "device": args.device,
        "device_name": device_name(device),
        "dtype": args.dtype,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "encoder_cell": args.encoder_cell,
        "fused_encoder": not args.no_fused_encoder,
        "compile": args.compile,
        "keep_freed_memory": getattr(args, "keep_freed_memory", False),
        **{switch: getattr(cfg, switch) for switch in SPEED_SWITCHES},
        "batch": args.batch,
        "src_len": args.src_len,
        "steps": args.steps,
        "warmup": args.warmup,
    }


def emit(record: dict) -> None:
    """One JSON line on stdout."""
    print(json.dumps(record), flush=True)


def delegate_both(script: str, args: argparse.Namespace) -> bool:
    """With --model both, rerun `script` once per model, each in its own process (so peak
    memory is per model); returns True when it did."""
    if args.model != "both":
        return False
    argv = list(sys.argv[1:])
    if "--model" in argv:
        i = argv.index("--model")
        del argv[i : i + 2]
    for name in ("rnnsearch", "rnnencdec"):
        subprocess.run([sys.executable, script, *argv, "--model", name], check=True)
    return True
