"""Entry point: generate the embedded English-like -> French-like corpus into `data/embedded/`.

The corpus stands in for WMT'14 (Sec. 4.1) where there is no network and no GPU: a seeded
`numpy.random.Generator` drives an invented bilingual lexicon (`lexicon.py`, Zipf-distributed so
a shortlist leaves [UNK] on both sides) and a small grammar with reordering, agreement and
one-to-many correspondences (`grammar.py`). The same seed gives byte-identical files.

Splits: train and dev lengths follow 1 + Gamma(2.5) with the configured mean, capped at
`max_sentence_len`; the test set is stratified so every source-length bucket of Fig. 2
(0-9, 10-19, ..., 60+) holds `n_test / n_length_buckets` sentences. Dev/test sentences never occur
in train. Output (`<raw_dir>/`): `{train,dev,test}.{en,fr}.gz` raw, untokenised, line-aligned
text, and `test.align.gz` (gold alignments, Pharaoh `i-j` over Moses tokens, English-French).
Files are rewritten only when their content changes, so committed bytes stay stable.

Usage: `python -m rnnsearch.generate [data.embedded.seed=7]`.
"""

from __future__ import annotations

import gzip
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rnnsearch.corpora.embedded.grammar import Grammar
from rnnsearch.corpora.embedded.lexicon import Lexicon, Sampler
from rnnsearch.corpora.embedded.orthography import detokenize, render
from rnnsearch.io_utils import atomic_write_bytes

log = logging.getLogger(__name__)
LANGS = ("en", "fr")


@dataclass
class SplitText:
    """Raw line-aligned sentences of one split, plus gold alignments (test only)."""

    en: list[str] = field(default_factory=list)
    fr: list[str] = field(default_factory=list)
    align: list[str] = field(default_factory=list)
    src_lengths: list[int] = field(default_factory=list)  # English Moses tokens


def bucket_of(length: int, width: int, n_buckets: int) -> int:
    """Fig. 2 source-length bucket: [0, w), [w, 2w), ..., [(n-1)w, inf)."""
    return min(length // width, n_buckets - 1)


def length_cdf(mean: float, max_len: int, shape: float = 2.5) -> list[float]:
    """Discretised 1 + Gamma(shape, (mean - 1) / shape) over lengths 1..max_len, as a CDF."""
    scale = max(mean - 1.0, 0.5) / shape
    pdf = [math.exp((shape - 1) * math.log(x) - x / scale) for x in
           (n - 0.5 for n in range(1, max_len + 1))]
    total = sum(pdf)
    cdf, acc = [], 0.0
    for p in pdf:
        acc += p / total
        cdf.append(acc)
    cdf[-1] = 1.0
    return cdf


def _add(split: SplitText, en: list[str], fr: list[str], align: str) -> None:
    split.en.append(detokenize(en))
    split.fr.append(detokenize(fr))
    split.align.append(align)
    split.src_lengths.append(len(en))


def sample_natural(g: Grammar, n: int, cdf: list[float], max_len: int,
                   seen: set[str]) -> SplitText:
    """`n` new sentence pairs whose target lengths are drawn from `cdf` (1-based)."""
    out = SplitText()
    while len(out.en) < n:
        en, fr, align = render(g.sentence(g.s.index(cdf) + 1))
        key = " ".join(en)
        if len(en) <= max_len and key not in seen:
            seen.add(key)
            _add(out, en, fr, align)
    return out


def sample_stratified(g: Grammar, n: int, width: int, n_buckets: int, max_len: int,
                      seen: set[str]) -> SplitText:
    """`n` sentence pairs with (about) the same number in every source-length bucket."""
    out = SplitText()
    for b in range(n_buckets):
        lo, hi = max(1, b * width), (max_len if b == n_buckets - 1 else (b + 1) * width - 1)
        quota, got, tries = n // n_buckets + (b < n % n_buckets), 0, 0
        while got < quota:
            tries += 1
            if tries > 200 * quota + 1000:
                raise RuntimeError(f"cannot fill length bucket {lo}-{hi}; raise max_sentence_len")
            en, fr, align = render(g.sentence(lo + g.s.below(hi - lo + 1)), with_alignment=True)
            key = " ".join(en)
            if lo <= len(en) <= hi and key not in seen:
                seen.add(key)
                _add(out, en, fr, align)
                got += 1
    order = sorted(range(len(out.en)), key=lambda _: g.s.random())  # interleave the buckets
    return SplitText(*([getattr(out, f)[i] for i in order]
                       for f in ("en", "fr", "align", "src_lengths")))


def generate_corpus(cfg: Any) -> dict[str, SplitText]:
    """Generate test, dev and train (in that order, so train can exclude the others).

    Args:
        cfg: an `EmbeddedCorpusConfig` (dataclass or DictConfig).

    Returns:
        Split name -> sentences.
    """
    s = Sampler(cfg.seed)
    g = Grammar(Lexicon.build(s, cfg.lexicon_size), s, cfg.zipf_exponent, cfg.zipf_shift)
    seen: set[str] = set()
    cdf = length_cdf(cfg.mean_sentence_len, cfg.max_sentence_len)
    test = sample_stratified(g, cfg.n_test, cfg.length_bucket_width, cfg.n_length_buckets,
                             cfg.max_sentence_len, seen)
    dev = sample_natural(g, cfg.n_dev, cdf, cfg.max_sentence_len, seen)
    train = sample_natural(g, cfg.n_train, cdf, cfg.max_sentence_len, seen)
    return {"train": train, "dev": dev, "test": test}


def _write_if_changed(path: Path, lines: list[str]) -> bool:
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    if path.is_file():
        try:
            if gzip.decompress(path.read_bytes()) == data:
                return False
        except (OSError, EOFError):
            pass  # corrupt: rewrite
    atomic_write_bytes(path, gzip.compress(data, compresslevel=9, mtime=0))
    return True


def write_corpus(splits: dict[str, SplitText], out_dir: str | Path) -> list[str]:
    """Write `<split>.<lang>.gz` and `test.align.gz`; return the names of files that changed."""
    out_dir = Path(out_dir)
    changed = []
    for split, text in splits.items():
        files = {f"{split}.{lang}.gz": getattr(text, lang) for lang in LANGS}
        if split == "test":
            files["test.align.gz"] = text.align
        changed += [name for name, lines in files.items()
                    if _write_if_changed(out_dir / name, lines)]
    return changed


def corpus_summary(splits: dict[str, SplitText], width: int, n_buckets: int) -> dict[str, Any]:
    """Sentence counts, mean source length and test bucket counts."""
    out: dict[str, Any] = {}
    for name, text in splits.items():
        lengths = text.src_lengths
        out[name] = {"sentences": len(lengths), "src_tokens": sum(lengths),
                     "src_len_min": min(lengths, default=0), "src_len_max": max(lengths, default=0)}
    buckets = Counter(bucket_of(n, width, n_buckets) for n in splits["test"].src_lengths)
    out["test"]["buckets"] = {f"{b * width}+" if b == n_buckets - 1 else
                              f"{b * width}-{(b + 1) * width - 1}": buckets[b]
                              for b in range(n_buckets)}
    return out


def run(cfg: DictConfig) -> dict[str, Any]:
    """Generate the embedded corpus into `cfg.data.raw_dir`; return a summary.

    Raises:
        ValueError: if `cfg.data.name` is not "embedded" or the languages are not en/fr.
    """
    if cfg.data.name != "embedded" or (cfg.data.src_lang, cfg.data.tgt_lang) != LANGS:
        raise ValueError("rnnsearch.generate writes the embedded en-fr corpus; use data=embedded")
    ecfg = cfg.data.embedded
    t0 = time.perf_counter()
    splits = generate_corpus(ecfg)
    changed = write_corpus(splits, cfg.data.raw_dir)
    summary = corpus_summary(splits, ecfg.length_bucket_width, ecfg.n_length_buckets)
    summary.update(raw_dir=str(cfg.data.raw_dir), changed=changed,
                   seconds=round(time.perf_counter() - t0, 2))
    log.info("generated embedded corpus in %s (%.1f s); changed: %s", cfg.data.raw_dir,
             summary["seconds"], ", ".join(changed) or "nothing")
    return summary
