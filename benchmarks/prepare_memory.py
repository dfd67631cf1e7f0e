"""Peak memory and speed of `rnnsearch.prepare` on synthetic corpora in LIUM's layout.

For each `--pairs` size this writes what `python -m rnnsearch.wmt14 data=wmt14_lium` leaves in
its raw directory: `train.{en,fr}.gz` (pretokenized, Moses entities such as `&apos;` left
escaped, as LIUM publishes them), `dev.{en,fr}` (6,003 lines, like ntst1213) and `test.{en,fr}`
(3,003 lines, like ntst14). Words follow a Zipf-Mandelbrot law over a large lexicon, so new
word types keep appearing as the corpus grows (as in real text); sentence lengths follow a
gamma law with LIUM's means (25 English, 29 French tokens) and a tail past 50 tokens.

It then runs `python -m rnnsearch.prepare data=wmt14_lium scale=paper` in a subprocess (its
peak RSS from `os.wait4`, i.e. the kernel's ru_maxrss of that process), and in a second
subprocess measures what loading the prepared training data adds to a training process's RSS:
`ParallelTextDataModule.setup()` plus the first batch of an epoch (the epoch's batch plan).

Prints one JSON line per size: `pairs`; `prepare_peak_rss_mb`; `prepare_pairs_per_s` (pairs of
the training files over prepare's own run time, `reports/runs/prepare.json`) and
`prepare_pairs_per_cpu_s` (over its CPU time: what a loaded machine does not distort);
`train_data_rss_mb` (VmRSS growth, mapped file pages included), `train_data_anon_mb` (RssAnon
growth: what another process mapping the same files does not share) and `train_data_heap_mb`
(what tracemalloc sees allocated while loading: the private memory the data costs, whatever
glibc reuses); sizes on disk (`raw_text_mb`: the training text uncompressed, about the size of
prepare's temporary token files); the machine. A last line (`"summary": true`) gives the peak
ratio of the largest to the smallest size and a linear extrapolation of the peak to 12M pairs
(LIUM's selection: 348M French / 304M English tokens).

Usage: `python benchmarks/prepare_memory.py --pairs 250000,1000000,4000000 [--workdir DIR]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LEXICON = 2_000_000  # word types per language the Zipf law draws from
ZIPF_S, ZIPF_Q = 1.4, 2.7  # p(rank r) ~ (r + q)^-s: 20k types in 371k tokens, as the tokenized
                         # Europarl sample (../shared/data/real) has; 98% covered by 30k words
LEN_SHAPE, LEN_SCALE, FR_RATIO = 2.2, 11.0, 1.15  # en ~ 1 + Gamma; fr ~ en * 1.15 (348M / 304M)
DEV_LINES, TEST_LINES = 6003, 3003
ENTITIES = ("l&apos;", "d&apos;", "qu&apos;", "n&apos;", "&quot;", "s&apos;", "&amp;")
CHUNK = 50_000  # pairs written at a time


def lexicon(lang: str, size: int) -> np.ndarray:
    """`size` distinct pseudo-words, frequent ones short; French has LIUM's escaped entities."""
    consonants, vowels = "bcdfghjklmnpqrstvz", "aeiouy"
    syllables = [c + v for c in consonants for v in vowels]  # 108
    words = [".", ",", "the" if lang == "en" else "de", "of" if lang == "en" else "la"]
    if lang == "fr":
        words += list(ENTITIES)
    k = 0
    while len(words) < size:
        digits, n = [], k
        while True:
            n, d = divmod(n, len(syllables))
            digits.append(syllables[d])
            if n == 0:
                break
        words.append("".join(digits) + ("s" if lang == "en" else "e") * (k % 3 == 0))
        k += 1
    return np.array(words[:size], dtype=object)


def _cdf(size: int) -> np.ndarray:
    p = (np.arange(1, size + 1) + ZIPF_Q) ** -ZIPF_S
    return np.cumsum(p / p.sum())


def _lines(rng: np.random.Generator, words: np.ndarray, cdf: np.ndarray,
           lengths: np.ndarray) -> list[str]:
    ids = np.minimum(np.searchsorted(cdf, rng.random(int(lengths.sum()))), len(words) - 1)
    flat, ends = words[ids], np.cumsum(lengths)
    return [" ".join(flat[e - n: e]) for e, n in zip(ends, lengths, strict=True)]


def write_corpus(raw_dir: Path, pairs: int, seed: int = 0) -> None:
    """The raw directory the LIUM download step writes, with synthetic text."""
    rng = np.random.default_rng(seed)
    vocab = {lang: lexicon(lang, LEXICON) for lang in ("en", "fr")}
    cdf = _cdf(LEXICON)
    raw_dir.mkdir(parents=True, exist_ok=True)

    def chunk(n: int) -> tuple[list[str], list[str]]:
        en_len = 1 + np.round(rng.gamma(LEN_SHAPE, LEN_SCALE, n)).astype(np.int64)
        fr_len = np.maximum(1, np.round(en_len * FR_RATIO + rng.normal(0, 2, n))).astype(np.int64)
        return _lines(rng, vocab["en"], cdf, en_len), _lines(rng, vocab["fr"], cdf, fr_len)

    text_bytes = 0
    with gzip.open(raw_dir / "train.en.gz", "wb", compresslevel=1) as en, \
            gzip.open(raw_dir / "train.fr.gz", "wb", compresslevel=1) as fr:
        for start in range(0, pairs, CHUNK):
            src, tgt = chunk(min(CHUNK, pairs - start))
            for out, lines in ((en, src), (fr, tgt)):
                data = "".join(f"{line}\n" for line in lines).encode("utf-8")
                out.write(data)
                text_bytes += len(data)
    (raw_dir.parent / "raw_text_bytes").write_text(str(text_bytes))
    for split, n in (("dev", DEV_LINES), ("test", TEST_LINES)):
        src, tgt = chunk(n)
        (raw_dir / f"{split}.en").write_text("".join(f"{s}\n" for s in src), encoding="utf-8")
        (raw_dir / f"{split}.fr").write_text("".join(f"{t}\n" for t in tgt), encoding="utf-8")


def _overrides(work: Path) -> list[str]:
    return ["data=wmt14_lium", "scale=paper", f"data.raw_dir={work / 'raw'}",
            f"data.prepared_dir={work / 'prepared'}", "data.stats_report=null",
            f"paths.reports_dir={work / 'reports'}", f"hydra.run.dir={work / 'hydra'}"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}


def run_prepare(work: Path) -> dict[str, float]:
    """Peak RSS (MiB), wall and CPU seconds of one `rnnsearch.prepare` process.

    The kernel's ru_maxrss of a child counts its parent's resident pages at the fork, so this
    process stays small: the corpus is written by another child (`--write-corpus`).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rnnsearch.prepare", *_overrides(work)],
                            cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    err = proc.stderr.read().decode() if proc.stderr else ""  # drained: no pipe stall
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"prepare failed: {err[-2000:]}")
    return {"peak_mb": usage.ru_maxrss / 1024, "wall_s": time.perf_counter() - t0,
            "cpu_s": usage.ru_utime + usage.ru_stime}


MEASURE_LOAD = """
import json, sys, tracemalloc
from hydra import compose, initialize_config_dir
from rnnsearch.config import register_configs
from rnnsearch.training.datamodule import ParallelTextDataModule

def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon", "RssFile")}

register_configs()
with initialize_config_dir(config_dir=sys.argv[1], version_base="1.3"):
    cfg = compose("config", overrides=sys.argv[2:])
dm = ParallelTextDataModule(cfg.data, cfg.seed)
before = rss()
tracemalloc.start()
dm.setup("fit")
batches = iter(dm.train_dataloader())
next(batches)  # the epoch's batch plan and one batch
heap = tracemalloc.get_traced_memory()[0] / 2**20
after = rss()
print(json.dumps({k: after[k] - before[k] for k in before} | {"heap": heap}))
"""


def measure_training_load(work: Path) -> dict[str, float]:
    """RSS growth (MiB) of a training process when it loads the prepared training data."""
    out = subprocess.run([sys.executable, "-c", MEASURE_LOAD, str(REPO / "conf"),
                          *_overrides(work)[:4]], cwd=REPO, env=_env(), check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _du_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def machine() -> dict[str, str | int]:
    """CPU model, its AVX flags and core count (to name the machine beside each figure)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                  if line.startswith("model name")), platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines()
                  if line.startswith("flags")), [])
    return {"cpu": model, "avx512f": "avx512f" in flags, "avx2": "avx2" in flags,
            "cores": os.cpu_count() or 0, "python": platform.python_version()}


def bench(pairs: int, root: Path) -> dict[str, object]:
    """Write one corpus, prepare it, load it; the JSON line of this size."""
    work = root / f"pairs{pairs}"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run([sys.executable, __file__, "--write-corpus", str(work / "raw"),
                    "--pairs", str(pairs)], check=True, env=_env())
    run = run_prepare(work)
    seconds = json.loads((work / "reports" / "runs" / "prepare.json").read_text())["seconds"]
    stats = json.loads((work / "prepared" / "stats.json").read_text())
    load = measure_training_load(work)
    line = {"pairs": pairs, "prepare_peak_rss_mb": round(run["peak_mb"], 1),
            "prepare_pairs_per_s": round(pairs / seconds), "prepare_s": seconds,
            "prepare_wall_s": round(run["wall_s"], 1), "prepare_cpu_s": round(run["cpu_s"], 1),
            "prepare_pairs_per_cpu_s": round(pairs / run["cpu_s"]),
            "train_data_rss_mb": round(load["VmRSS"], 1),
            "train_data_anon_mb": round(load["RssAnon"], 1),
            "train_data_heap_mb": round(load["heap"], 1),
            "kept_pairs": stats["train"]["pairs"], "raw_tokens": stats["train"]["raw_tokens"],
            "types": {lang: stats["train"][lang]["types"] for lang in ("en", "fr")},
            "raw_gz_mb": _du_mb(work / "raw"), "prepared_mb": _du_mb(work / "prepared"),
            "raw_text_mb": round(int((work / "raw_text_bytes").read_text()) / 2**20, 1),
            "date": date.today().isoformat(), **machine()}
    shutil.rmtree(work, ignore_errors=True)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="250000,1000000,4000000",
                        help="comma-separated corpus sizes (pairs), smallest first")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where corpora are written (default: a temporary directory)")
    parser.add_argument("--write-corpus", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(n) for n in args.pairs.split(",")]
    if args.write_corpus:  # the child that writes one corpus (see run_prepare)
        write_corpus(args.write_corpus, sizes[0])
        return
    root = args.workdir or Path(tempfile.mkdtemp(prefix="prepare_memory."))
    lines = []
    for pairs in sizes:
        lines.append(bench(pairs, root))
        print(json.dumps(lines[-1]), flush=True)
    if len(lines) >= 2:
        a, b = lines[-2], lines[-1]
        slope = (b["prepare_peak_rss_mb"] - a["prepare_peak_rss_mb"]) / (b["pairs"] - a["pairs"])
        print(json.dumps({
            "summary": True,
            "peak_ratio": round(b["prepare_peak_rss_mb"] / lines[0]["prepare_peak_rss_mb"], 3),
            "ratio_of": [b["pairs"], lines[0]["pairs"]],
            "extrapolated_12m_peak_mb": round(b["prepare_peak_rss_mb"]
                                              + slope * (12_000_000 - b["pairs"]), 1)}))
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
