"""Entry point (DVC stage `prepare`): raw corpus -> tokens, shortlists, id arrays, stats.

Paper: Sec. 4.1. Writes to `data.prepared_dir`, every file atomically, `stats.json` last (its
presence marks a complete run; a stale one is removed first; it records the scale and shortlist,
see guards.py, and no timing, which goes to `<reports_dir>/runs/prepare.json`):
  vocab.<lang>.txt        shortlist of `data.vocab_size` tokens (4 specials first), per language,
                          counted over `data.vocab_count`: every training line (`all_lines`, as
                          GroundHog's preprocess.py) or the kept pairs (`kept_pairs`);
                          `auto`: sized per language to `data.vocab_coverage` (stats.json:
                          `vocab_choice`)
  <split>.<side>.{ids,offsets}.npy  int32 ids / int64 offsets, side src|tgt, no BOS/EOS
                          (`parallel_files.py`); training maps them
  spm.<lang>.model        `data.units: bpe` (ours): the sentencepiece model per language; the
                          vocabularies are then its pieces and the id arrays piece ids
                          (`piece_encoding.py`), stats.json `subwords`
  {dev,test}.<lang>.tok   Moses tokens (before [UNK] mapping), one sentence per line
  {dev,test}.<lang>.raw   the untokenized sentences, line-aligned with the .tok files
With `data.pretokenized` (the LIUM corpus) the files' own tokens are kept (Moses entities
unescaped) and the .raw files hold their Moses detokenisation, for sacreBLEU only.
Training pairs keep 1..`data.prepare_max_len` tokens per side; dev/test keep every non-empty pair.
The training files are streamed (`train_encoding.py`): memory does not grow with the corpus
beyond its word types. Invalid UTF-8 in them stops prepare or, with `data.invalid_utf8:
replace`, becomes U+FFFD and is counted (stats.json `train.invalid_utf8`); in dev and test it
always stops. stats.json also records the training files' token totals before any filter and
the dev/test line counts, compared with `data.paper_counts` (one warning line if they differ).
The same inputs give the same bytes in every file.

Usage: `python -m rnnsearch.prepare data=embedded` (or `data=wmt14_en_fr`, or
`data=parallel_text data.raw_dir=<dir> data.src_lang=<src> data.tgt_lang=<tgt>` for any
line-aligned corpus: docs/data.md "Your own parallel corpus").
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from rnnsearch.data.guards import check_corpus_scale, prepared_settings
from rnnsearch.data.parallel_files import (
    SIDES,
    SPLITS,
    DataError,
    save_split,
    split_stem,
)
from rnnsearch.data.piece_encoding import encode_heldout, encode_pieces, train_models
from rnnsearch.data.split_stats import SideStats, paper_count_warning
from rnnsearch.data.subwords import BPE, SubwordModel, model_name
from rnnsearch.data.tokenized_pairs import (
    TokenizedPairs,
    corpus_languages,
    count_tokens,
    encode_all,
    find_raw,
    load_heldout_splits,
)
from rnnsearch.data.train_encoding import (
    TrainSpool,
    shortlist_counts,
    spool_train,
)
from rnnsearch.data.vocab import AUTO_VOCAB, SPECIALS, Vocabulary
from rnnsearch.data.word_counts import candidates, word_counts_without_specials
from rnnsearch.io_utils import atomic_write_json, atomic_write_lines

log = logging.getLogger(__name__)


def _write_heldout(out: Path, split: str, pairs: TokenizedPairs, vocabs: list[Vocabulary],
                   langs: tuple[str, str], models: list[SubwordModel]) -> dict[str, Any]:
    """Dev or test: ids (of pieces with `models`), .tok and .raw text; its stats.json entry."""
    toks = (pairs.tok_src, pairs.tok_tgt)
    ids = ([encode_heldout(m, v, t) for m, v, t in zip(models, vocabs, toks, strict=True)]
           if models else [encode_all(v, t) for v, t in zip(vocabs, toks, strict=True)])
    save_split(out, split, ids[0], ids[1])
    for lang, tok, raw in ((langs[0], pairs.tok_src, pairs.raw_src),
                           (langs[1], pairs.tok_tgt, pairs.raw_tgt)):
        atomic_write_lines(out / f"{split}.{lang}.tok", [" ".join(t) for t in tok])
        atomic_write_lines(out / f"{split}.{lang}.raw", raw)
    sides, has_unk = [], np.zeros(len(pairs), dtype=bool)
    for side_ids, side_toks in zip(ids, toks, strict=True):
        side = SideStats(types=len(count_tokens(side_toks)))
        lengths = np.array([len(x) for x in side_ids], dtype=np.int64)
        has_unk |= side.add(np.array([i for x in side_ids for i in x], dtype=np.int64), lengths)
        sides.append(side.as_dict())
    return {"pairs": len(pairs), "lines": pairs.lines, "dropped_empty": pairs.dropped_empty,
            "dropped_length": pairs.dropped_length, "pairs_without_unk": int((~has_unk).sum()),
            langs[0]: sides[0], langs[1]: sides[1]}


def _shortlists(data: Any, spool: TrainSpool, langs: tuple[str, str]
                ) -> tuple[list[Vocabulary], dict[str, Any]]:
    """Per side: the shortlist of `data.vocab_size` words, or for `auto` the smallest one that
    covers `data.vocab_coverage` of the training tokens within `data.vocab_max` (ours; the paper
    uses 30k, Sec. 4.1), from the word counts of `data.vocab_count`. Returns the vocabularies
    and, for `auto`, the choice and its coverage. `data.vocab_size` is an integer or `auto`
    (config_checks, when the config is composed).
    """
    auto = data.vocab_size == AUTO_VOCAB
    vocabs, choice = [], {}
    for k, lang in enumerate(langs):
        keys, counts = word_counts_without_specials(getattr(spool.sides[k], data.vocab_count))
        size = (Vocabulary.size_for_coverage_of_counts(counts, data.vocab_coverage,
                                                       data.vocab_max)
                if auto else data.vocab_size)
        shortlisted = candidates(keys, counts, size - len(SPECIALS))
        words = shortlist_counts(spool, k, shortlisted,
                                 counts[np.searchsorted(keys, shortlisted)])
        vocabs.append(Vocabulary.build(words, size))
        if auto:
            total = int(counts.sum())
            coverage = sum(words[w] for w in vocabs[-1].tokens[len(SPECIALS):]) / total \
                if total else 1.0
            choice[lang] = {"size": len(vocabs[-1]), "train_coverage": round(coverage, 6),
                            "capped": len(vocabs[-1]) == data.vocab_max
                            and coverage < data.vocab_coverage}
    if not auto:
        return vocabs, {}
    return vocabs, {"target_coverage": data.vocab_coverage, "cap": data.vocab_max, **choice}


def _encode_train(cfg: DictConfig, langs: tuple[str, str], out: Path
                  ) -> tuple[list[Vocabulary], list[SubwordModel], dict[str, Any], dict[str, Any]]:
    """Stream the training files: shortlists or subword models (saved), train arrays;
    (vocabs, subword models (none for words), stats.json's vocab_choice or subwords, stats)."""
    data = cfg.data
    paths = [find_raw(Path(data.raw_dir), "train", lang, data.name) for lang in langs]
    if any(p.suffix == ".sgm" for p in paths):
        raise DataError(f"{paths[0].parent}: training text must be line-aligned (.gz or plain), "
                        "not SGML")
    with spool_train(paths[0], paths[1], langs, pretokenized=data.pretokenized,
                     workers=data.prepare_workers, replace_invalid=data.invalid_utf8 == "replace",
                     max_len=data.prepare_max_len, tmp_dir=out) as spool:
        if not spool.pairs.kept:
            raise DataError(f"{paths[0]}: empty corpus (no sentence pair of "
                            f"1..{data.prepare_max_len} tokens per side (data.prepare_max_len))")
        stems = [split_stem(out, "train", s) for s in SIDES]
        if data.units == BPE:  # ours: pieces (piece_encoding.py)
            models, vocabs = train_models(spool, langs, data.subword_vocab_size, out,
                                          data.prepare_workers)
            save_vocabs(out, langs, vocabs)
            sides, no_unk, words = encode_pieces(spool, models, vocabs, stems,
                                                 data.prepare_workers)
            extra = {"subwords": subword_stats(data, langs, vocabs, sides, words)}
        else:
            models, (vocabs, choice) = [], _shortlists(data, spool, langs)
            save_vocabs(out, langs, vocabs)
            sides, no_unk = spool.encode(vocabs, stems, data.vocab_count)
            extra = {"vocab_choice": choice} if choice else {}
    return vocabs, models, extra, _train_stats(spool, sides, no_unk, langs, paths)


def save_vocabs(out: Path, langs: tuple[str, str], vocabs: list[Vocabulary]) -> None:
    """`vocab.<lang>.txt` per language."""
    for lang, vocab in zip(langs, vocabs, strict=True):
        vocab.save(out / f"vocab.{lang}.txt")


def subword_stats(data: Any, langs: tuple[str, str], vocabs: list[Vocabulary],
                  sides: list[SideStats], words: list[int]) -> dict[str, Any]:
    """stats.json's `subwords`: the model kind and, per language, its pieces per word."""
    return {"model": "sentencepiece bpe", "vocab_size": data.subword_vocab_size,
            **{lang: {"pieces": len(v), "pieces_per_word": round(s.tokens / max(w, 1), 4)}
               for lang, v, s, w in zip(langs, vocabs, sides, words, strict=True)}}


def _train_stats(spool: TrainSpool, sides: list[SideStats], no_unk: int,
                 langs: tuple[str, str], paths: list[Path]) -> dict[str, Any]:
    invalid = {lang: {"lines": s.invalid.lines, "first": s.invalid.first}
               for lang, s in zip(langs, spool.sides, strict=True)}
    bad = [f"{p}: {invalid[lang]['lines']} lines, the first at lines "
           f"{', '.join(map(str, invalid[lang]['first']))}"
           for lang, p in zip(langs, paths, strict=True) if invalid[lang]["lines"]]
    if bad:
        log.warning("invalid UTF-8 replaced by U+FFFD (data.invalid_utf8=replace): %s",
                    "; ".join(bad))
    pairs = spool.pairs
    return {"pairs": pairs.kept, "lines": pairs.lines, "dropped_empty": pairs.dropped_empty,
            "dropped_length": pairs.dropped_length, "pairs_without_unk": no_unk,
            "raw_tokens": {lang: s.raw_tokens for lang, s in zip(langs, spool.sides, strict=True)},
            "invalid_utf8": invalid,
            **{lang: side.as_dict() for lang, side in zip(langs, sides, strict=True)}}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Prepare `cfg.data` into `cfg.data.prepared_dir`; return the stats written to stats.json.

    Raises:
        ValueError: the corpus may not run at this scale (`data=wmt14_en_fr` needs `scale=paper`),
            `data=parallel_text` lacks its languages, or a choice key has an unknown value.
        FileNotFoundError: if the raw data is missing (names the command that creates it).
        DataError: on malformed, misaligned or empty input (one line, naming file and line).
    """
    check_corpus_scale(cfg)
    t0 = time.perf_counter()
    langs = corpus_languages(cfg.data)
    out = Path(cfg.data.prepared_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stats.json").unlink(missing_ok=True)  # the marker goes first, comes back last
    for stale in out.glob(".train.tmp-*"):  # token files of a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    for lang in langs:  # a subword model of an earlier run (data.units=bpe writes it again)
        (out / model_name(lang)).unlink(missing_ok=True)
    heldout = load_heldout_splits(Path(cfg.data.raw_dir), langs, cfg.data.name,
                                  cfg.data.prepare_workers, cfg.data.pretokenized)
    vocabs, models, extra, train = _encode_train(cfg, langs, out)
    stats: dict[str, Any] = {**prepared_settings(cfg),  # checked by training (guards.py)
                             "vocab": {lang: len(v) for lang, v in zip(langs, vocabs, strict=True)},
                             "train": train, **extra}
    for split, pairs in heldout.items():
        stats[split] = _write_heldout(out, split, pairs, vocabs, langs, models)
    warning = paper_count_warning(stats, cfg.data.paper_counts)
    if warning:
        log.warning("%s", warning)
    atomic_write_json(out / "stats.json", stats)  # no timing: a rerun gives the same bytes
    if cfg.data.stats_report:
        atomic_write_json(cfg.data.stats_report, stats)
    seconds = round(time.perf_counter() - t0, 2)
    atomic_write_json(Path(cfg.paths.reports_dir) / "runs" / "prepare.json", {"seconds": seconds})
    log.info("prepared %s in %.1f s: %s", out, seconds,
             ", ".join(f"{s}={stats[s]['pairs']}" for s in SPLITS))
    return stats
