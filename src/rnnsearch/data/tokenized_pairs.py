"""Preprocessing steps behind `rnnsearch.prepare`: raw files -> clean, tokenized dev/test pairs.

Paper: Sec. 4.1 (Moses tokenisation, 30k shortlists, [UNK]). The same code path serves the
embedded corpus, WMT'14 and any line-aligned corpus (`data=parallel_text`, languages from
`data.src_lang` / `data.tgt_lang`). Dev and test are small and held in memory, with their
detokenized text (sacreBLEU scores it); the training split is streamed (`train_encoding.py`).

Raw layout in `data.raw_dir`: per split and language one of `<split>.<lang>.gz`,
`<split>.<lang>` (line-aligned UTF-8 text) or `<split>.<lang>.sgm` (WMT SGML, paired by
document and segment id). Not responsible for writing artefacts (`prepare_stage.py`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnsearch.data.moses import clean_line, detokenize, pretokenized_tokens, tokenize_many
from rnnsearch.data.parallel_files import DataError, read_parallel
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
HELDOUT: tuple[str, str] = ("dev", "test")


@dataclass
class TokenizedPairs:
    """Clean raw sentences and their Moses tokens, line-aligned (`lines`: as read, before the
    pairs with an empty side were dropped)."""

    lines: int = 0
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
    out = TokenizedPairs(lines=len(src))
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
    out = TokenizedPairs(lines=len(src))
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


def load_heldout_splits(raw_dir: Path, langs: tuple[str, str], data_name: str, workers: int,
                        pretokenized: bool = False) -> dict[str, TokenizedPairs]:
    """Read, clean and tokenize dev and test (`pretokenized`: take the files' tokens as they
    are); every non-empty pair is kept. Invalid UTF-8 always stops here.

    Raises:
        FileNotFoundError: if raw files are missing (names the command that creates them).
        DataError: on bad input (one line naming file and line), or a split left without any
            sentence pair.
    """
    splits = {}
    for split in HELDOUT:
        src, tgt = read_raw_split(raw_dir, split, langs, data_name)
        pairs = (pretokenized_pairs(src, tgt, langs) if pretokenized
                 else tokenize_pairs(src, tgt, langs, workers))
        if not len(pairs):
            raise DataError(f"{find_raw(raw_dir, split, langs[0], data_name)}: empty corpus "
                            "(no sentence pair with a non-empty source and target)")
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
