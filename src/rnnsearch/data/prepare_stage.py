"""Entry point (DVC stage `prepare`): raw corpus -> tokens, shortlists, id arrays, stats.

Paper: Sec. 4.1. Writes to `data.prepared_dir`, every file atomically, `stats.json` last (its
presence marks a complete run; a stale one is removed first; it records the scale and shortlist,
see guards.py, and no timing, which goes to `<reports_dir>/runs/prepare.json`):
  vocab.<lang>.txt        shortlist of `data.vocab_size` tokens (4 specials first), per language;
                          `auto`: sized per language to `data.vocab_coverage` (stats.json:
                          `vocab_choice`)
  {train,dev,test}.npz    src/src_offsets/tgt/tgt_offsets int32/int64 ids, no BOS/EOS
  {dev,test}.<lang>.tok   Moses tokens (before [UNK] mapping), one sentence per line
  {dev,test}.<lang>.raw   the untokenized sentences, line-aligned with the .tok files
With `data.pretokenized` (the LIUM corpus) the files' own tokens are kept (Moses entities
unescaped) and the .raw files hold their Moses detokenisation, for sacreBLEU only.
Training pairs keep 1..`data.prepare_max_len` tokens per side; dev/test keep every non-empty pair.

Usage: `python -m rnnsearch.prepare data=embedded` (or `data=wmt14_en_fr`, or
`data=parallel_text data.raw_dir=<dir> data.src_lang=<src> data.tgt_lang=<tgt>` for any
line-aligned corpus: docs/data.md "Your own parallel corpus").
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rnnsearch.data.guards import check_corpus_scale, prepared_settings
from rnnsearch.data.parallel_files import SPLITS, save_split
from rnnsearch.data.tokenized_pairs import (
    TokenizedPairs,
    corpus_languages,
    count_tokens,
    encode_all,
    load_tokenized_splits,
    side_stats,
)
from rnnsearch.data.vocab import AUTO_VOCAB, UNK_ID, Vocabulary
from rnnsearch.io_utils import atomic_write_json, atomic_write_lines

log = logging.getLogger(__name__)


def _write_split(out: Path, split: str, pairs: TokenizedPairs, vocabs: list[Vocabulary],
                 langs: tuple[str, str]) -> dict[str, Any]:
    ids = [encode_all(v, toks) for v, toks in zip(vocabs, (pairs.tok_src, pairs.tok_tgt),
                                                   strict=True)]
    save_split(out / f"{split}.npz", ids[0], ids[1])
    if split != "train":
        for lang, toks, raw in ((langs[0], pairs.tok_src, pairs.raw_src),
                                (langs[1], pairs.tok_tgt, pairs.raw_tgt)):
            atomic_write_lines(out / f"{split}.{lang}.tok", [" ".join(t) for t in toks])
            atomic_write_lines(out / f"{split}.{lang}.raw", raw)
    no_unk = sum(UNK_ID not in a and UNK_ID not in b for a, b in zip(*ids, strict=True))
    return {"pairs": len(pairs), "dropped_empty": pairs.dropped_empty,
            "dropped_length": pairs.dropped_length, "pairs_without_unk": no_unk,
            langs[0]: side_stats(pairs.tok_src, ids[0]),
            langs[1]: side_stats(pairs.tok_tgt, ids[1])}


def _shortlists(data: Any, train: TokenizedPairs, langs: tuple[str, str]
                ) -> tuple[list[Vocabulary], dict[str, Any]]:
    """Per side: the shortlist of `data.vocab_size` words, or for `auto` the smallest one that
    covers `data.vocab_coverage` of the training tokens within `data.vocab_max` (ours; the paper
    uses 30k, Sec. 4.1). Returns the vocabularies and, for `auto`, the choice and its coverage.
    `data.vocab_size` is an integer or `auto` (config_checks, when the config is composed).
    """
    counts = [count_tokens(toks) for toks in (train.tok_src, train.tok_tgt)]
    auto = data.vocab_size == AUTO_VOCAB
    sizes = [Vocabulary.size_for_coverage(c, data.vocab_coverage, data.vocab_max) if auto
             else data.vocab_size for c in counts]
    vocabs = [Vocabulary.build(c, k) for c, k in zip(counts, sizes, strict=True)]
    if not auto:
        return vocabs, {}
    choice = {lang: {"size": len(v), "train_coverage": round(v.coverage_of(c), 6),
                     "capped": len(v) == data.vocab_max and v.coverage_of(c) < data.vocab_coverage}
              for lang, v, c in zip(langs, vocabs, counts, strict=True)}
    return vocabs, {"target_coverage": data.vocab_coverage, "cap": data.vocab_max, **choice}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Prepare `cfg.data` into `cfg.data.prepared_dir`; return the stats written to stats.json.

    Raises:
        ValueError: the corpus may not run at this scale (`data=wmt14_en_fr` needs `scale=paper`),
            or `data=parallel_text` lacks its languages.
        FileNotFoundError: if the raw data is missing (names the command that creates it).
        DataError: on malformed, misaligned or empty input (one line, naming file and line).
    """
    check_corpus_scale(cfg)
    t0 = time.perf_counter()
    langs = corpus_languages(cfg.data)
    out = Path(cfg.data.prepared_dir)
    (out / "stats.json").unlink(missing_ok=True)  # the marker goes first, comes back last
    splits = load_tokenized_splits(Path(cfg.data.raw_dir), langs, cfg.data.name,
                                   cfg.data.prepare_max_len, cfg.data.prepare_workers,
                                   cfg.data.pretokenized)
    vocabs, choice = _shortlists(cfg.data, splits["train"], langs)
    for lang, vocab in zip(langs, vocabs, strict=True):
        vocab.save(out / f"vocab.{lang}.txt")
    stats: dict[str, Any] = {**prepared_settings(cfg),  # checked by training (guards.py)
                             "vocab": {lang: len(v) for lang, v in zip(langs, vocabs, strict=True)}}
    if choice:
        stats["vocab_choice"] = choice
    for split, pairs in splits.items():
        stats[split] = _write_split(out, split, pairs, vocabs, langs)
    atomic_write_json(out / "stats.json", stats)  # no timing: a rerun gives the same bytes
    if cfg.data.stats_report:
        atomic_write_json(cfg.data.stats_report, stats)
    seconds = round(time.perf_counter() - t0, 2)
    atomic_write_json(Path(cfg.paths.reports_dir) / "runs" / "prepare.json", {"seconds": seconds})
    log.info("prepared %s in %.1f s: %s", out, seconds,
             ", ".join(f"{s}={stats[s]['pairs']}" for s in SPLITS))
    return stats
