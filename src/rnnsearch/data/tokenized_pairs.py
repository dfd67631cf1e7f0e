"""Preprocessing steps behind `rnnsearch.prepare`: raw files -> clean, tokenized, filtered pairs.

Paper: Sec. 4.1 (Moses tokenisation, 30k shortlists, [UNK]); Sec. 4.2 (length-limited training
pairs). The same code path serves the embedded corpus, WMT'14 and any line-aligned corpus
(`data=parallel_text`, languages from `data.src_lang` / `data.tgt_lang`).

Raw layout in `data.raw_dir`: per split and language one of `<split>.<lang>.gz`,
`<split>.<lang>` (line-aligned UTF-8 text) or `<split>.<lang>.sgm` (WMT SGML, paired by
document and segment id). Not responsible for writing artefacts (`prepare.py`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnsearch.data.moses import clean_line, detokenize, pretokenized_tokens, tokenize_many
from rnnsearch.data.parallel_files import SPLITS, DataError, read_parallel
from rnnsearch.data.sgml import read_sgml_pair
from rnnsearch.data.vocab import SPECIALS, UNK, UNK_ID, Vocabulary

RAW_COMMANDS = {"embedded": "python -m rnnsearch.generate",
                "wmt14_en_fr": "python -m rnnsearch.wmt14",
                "wmt14_lium": "python -m rnnsearch.wmt14 data=wmt14_lium"}
# corpora the user brings: what to put in raw_dir instead of a command to run
RAW_LAYOUT = {"parallel_text": "put line-aligned train/dev/test.<src_lang>/<tgt_lang> text files "
                               "(optionally .gz) there or set data.raw_dir (docs/data.md: Your own "
                               "parallel corpus)"}
SUFFIXES = (".gz", "", ".sgm")
HIST_WIDTH, HIST_BINS = 10, 10  # length histogram: 0-9, 10-19, ..., 90+


@dataclass
class TokenizedPairs:
    """Clean raw sentences and their Moses tokens, line-aligned."""

    raw_src: list[str] = field(default_factory=list)
    raw_tgt: list[str] = field(default_factory=list)
    tok_src: list[list[str]] = field(default_factory=list)
    tok_tgt: list[list[str]] = field(default_factory=list)
    dropped_empty: int = 0
    dropped_length: int = 0

    def __len__(self) -> int:
        return len(self.raw_src)


def find_raw(raw_dir: Path, split: str, lang: str, data_name: str) -> Path:
    """The raw file of one split and language (first of `.gz`, plain, `.sgm` that exists).

    Raises:
        FileNotFoundError: naming the directory or file and the command that creates it.
    """
    hint = RAW_COMMANDS.get(data_name)
    how = (f"run `{hint}` to create it" if hint else
           RAW_LAYOUT.get(data_name, "see docs/embedded_corpus.md for the layout"))
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"raw data directory {raw_dir} not found; {how}")
    for suffix in SUFFIXES:
        path = raw_dir / f"{split}.{lang}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no raw file {raw_dir}/{split}.{lang}[.gz|.sgm]; {how}")


def corpus_languages(data: Any) -> tuple[str, str]:
    """(source, target) language codes of `cfg.data`: they name the files and pick Moses' rules.

    Raises:
        ValueError: one line, if one is empty (`data=parallel_text` leaves them to the user).
    """
    missing = [f"data.{k}" for k in ("src_lang", "tgt_lang") if not data[k]]
    if missing:
        raise ValueError(f"data={data.name} needs {' and '.join(missing)}: the language codes "
                         "of its files, e.g. `data.src_lang=de data.tgt_lang=en`")
    return data.src_lang, data.tgt_lang


def read_raw_split(raw_dir: Path, split: str, langs: tuple[str, str],
                   data_name: str) -> tuple[list[str], list[str]]:
    """Read one split's source and target sentences, checking that they are aligned.

    Raises:
        DataError: on misaligned, non-UTF-8 or malformed input.
    """
    src_path, tgt_path = (find_raw(raw_dir, split, lang, data_name) for lang in langs)
    if (src_path.suffix == ".sgm") != (tgt_path.suffix == ".sgm"):
        raise DataError(f"{src_path} and {tgt_path}: cannot pair SGML with plain text")
    if src_path.suffix == ".sgm":
        return read_sgml_pair(src_path, tgt_path)
    return read_parallel(src_path, tgt_path)


def tokenize_pairs(src: list[str], tgt: list[str], langs: tuple[str, str],
                   workers: int) -> TokenizedPairs:
    """Clean and Moses-tokenize; pairs with an empty side are dropped and counted."""
    raw_src = [clean_line(s) for s in src]
    raw_tgt = [clean_line(t) for t in tgt]
    tok_src, tok_tgt = tokenize_many([(raw_src, langs[0]), (raw_tgt, langs[1])], workers)
    out = TokenizedPairs()
    for rs, rt, ts, tt in zip(raw_src, raw_tgt, tok_src, tok_tgt, strict=True):
        if not ts or not tt:
            out.dropped_empty += 1
            continue
        out.raw_src.append(rs)
        out.raw_tgt.append(rt)
        out.tok_src.append(ts)
        out.tok_tgt.append(tt)
    return out


def pretokenized_pairs(src: list[str], tgt: list[str], langs: tuple[str, str]) -> TokenizedPairs:
    """Already tokenized text (the LIUM corpus): the tokens as they are, Moses entities
    unescaped; the `raw` side is their Moses detokenisation (for sacreBLEU only)."""
    out = TokenizedPairs()
    for s, t in zip(src, tgt, strict=True):
        ts, tt = pretokenized_tokens(clean_line(s), langs[0]), pretokenized_tokens(clean_line(t),
                                                                                    langs[1])
        if not ts or not tt:
            out.dropped_empty += 1
            continue
        out.raw_src.append(detokenize(ts, langs[0]))
        out.raw_tgt.append(detokenize(tt, langs[1]))
        out.tok_src.append(ts)
        out.tok_tgt.append(tt)
    return out


def filter_by_length(pairs: TokenizedPairs, max_len: int) -> TokenizedPairs:
    """Keep pairs whose both sides have 1..max_len tokens (Sec. 4.2); count the rest."""
    keep = [i for i in range(len(pairs))
            if len(pairs.tok_src[i]) <= max_len and len(pairs.tok_tgt[i]) <= max_len]
    return TokenizedPairs([pairs.raw_src[i] for i in keep], [pairs.raw_tgt[i] for i in keep],
                          [pairs.tok_src[i] for i in keep], [pairs.tok_tgt[i] for i in keep],
                          dropped_empty=pairs.dropped_empty,
                          dropped_length=len(pairs) - len(keep))


def load_tokenized_splits(raw_dir: Path, langs: tuple[str, str], data_name: str,
                          max_len: int, workers: int, pretokenized: bool = False,
                          ) -> dict[str, TokenizedPairs]:
    """Read, clean and tokenize train/dev/test (`pretokenized`: take the files' tokens as
    they are); length-filter train (dev/test keep all pairs).

    Raises:
        FileNotFoundError: if raw files are missing (names the command that creates them).
        DataError: on bad input, or a split left without any sentence pair.
    """
    splits = {}
    for split in SPLITS:
        src, tgt = read_raw_split(raw_dir, split, langs, data_name)
        pairs = (pretokenized_pairs(src, tgt, langs) if pretokenized
                 else tokenize_pairs(src, tgt, langs, workers))
        if split == "train":
            pairs = filter_by_length(pairs, max_len)
        if not len(pairs):
            usable = (f"of 1..{max_len} tokens per side (data.prepare_max_len)"
                      if split == "train" else "with a non-empty source and target")
            raise DataError(f"{find_raw(raw_dir, split, langs[0], data_name)}: empty corpus "
                            f"(no sentence pair {usable})")
        splits[split] = pairs
    return splits


def count_tokens(sentences: list[list[str]]) -> Counter[str]:
    """Token frequencies (the shortlist is built from the training side of each language)."""
    counts: Counter[str] = Counter()
    for toks in sentences:
        counts.update(toks)
    return counts


def encode_all(vocab: Vocabulary, sentences: list[list[str]]) -> list[list[int]]:
    """Ids per sentence; a literal special token in the text (e.g. "<s>") becomes [UNK]."""
    controls = set(SPECIALS) - {UNK}
    return [[UNK_ID if t in controls else i for t, i in zip(toks, vocab.encode(toks), strict=True)]
            for toks in sentences]


def side_stats(tokens: list[list[str]], ids: list[list[int]]) -> dict[str, Any]:
    """Sentences, tokens, types, [UNK] rate and a length histogram of one side of a split."""
    n_tok = sum(len(t) for t in tokens)
    n_unk = sum(row.count(UNK_ID) for row in ids)
    hist = Counter(min(len(t) // HIST_WIDTH, HIST_BINS - 1) for t in tokens)
    labels = [f"{b * HIST_WIDTH}-{(b + 1) * HIST_WIDTH - 1}" for b in range(HIST_BINS - 1)]
    return {
        "sentences": len(tokens),
        "tokens": n_tok,
        "types": len(count_tokens(tokens)),
        "unk_tokens": n_unk,
        "unk_rate": round(n_unk / n_tok, 6) if n_tok else 0.0,
        "sentences_with_unk": sum(UNK_ID in row for row in ids),
        "length_histogram": {label: hist[b] for b, label in
                             enumerate([*labels, f"{(HIST_BINS - 1) * HIST_WIDTH}+"])},
    }
