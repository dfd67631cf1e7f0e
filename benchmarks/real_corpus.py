"""Build the real English->French measurement corpus for `data=parallel_text`.

Reads the offline samples in `../shared/data/real` (never copied into the repository) and writes
`train/dev/test.{en,fr}` into the directory given on the command line (e.g. data/parallel_text/,
which git ignores):
  train: the raw Europarl v7 sample (20,000 pairs) plus the pairs of the tokenized sample whose
         English side is not already in it (about 11,500); the tokenized sample is Moses-escaped
         and Moses-tokenized, so it is unescaped and detokenized with sacremoses first;
  dev:   newstest2012 (3,003 pairs; the paper's dev set is newstest2012+2013, Sec. 4.1);
  test:  newstest2013 (3,000 pairs).
Pairs with an empty side are left to `prepare`, which drops and counts them.

Usage: `python benchmarks/real_corpus.py data/parallel_text`, then the README's
"Your own parallel corpus" commands with `data.src_lang=en data.tgt_lang=fr`.
Without ../shared it prints one line and exits with status 0 (nothing to build).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sacremoses import MosesDetokenizer

from rnnsearch.io_utils import atomic_write_lines

SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
LANGS = ("en", "fr")
EUROPARL = "europarl-v7-fr-en-sample-{kind}/europarl-v7.fr-en.{lang}"
NEWSTEST = {"dev": "newstest2012/newstest2012.{lang}", "test": "newstest2013/newstest2013.{lang}"}


def read_lines(path: Path) -> list[str]:
    """The file's lines without their line ends (UTF-8)."""
    return path.read_text(encoding="utf-8").split("\n")[:-1] if path.stat().st_size else []


def detokenize(lines: list[str], lang: str) -> list[str]:
    """Undo Moses' escaping (`&apos;`, `&quot;`, ...) and tokenisation of `lines`."""
    detok = MosesDetokenizer(lang=lang)
    return [detok.detokenize(line.split(), unescape=True) for line in lines]


def _key(sentence: str) -> str:
    """Whitespace-free form: the same sentence raw and tokenized-then-detokenized compare equal."""
    return "".join(sentence.split())


def train_pairs(real: Path) -> dict[str, list[str]]:
    """Raw Europarl sample + the detokenized tokenized sample's pairs not already in it."""
    raw = {lang: read_lines(real / EUROPARL.format(kind="raw", lang=lang)) for lang in LANGS}
    tok = {lang: detokenize(read_lines(real / EUROPARL.format(kind="tok", lang=lang)), lang)
           for lang in LANGS}
    seen = {_key(s) for s in raw["en"]}
    extra = [k for k, s in enumerate(tok["en"]) if _key(s) not in seen]
    return {lang: raw[lang] + [tok[lang][k] for k in extra] for lang in LANGS}


def build(real: Path, out: Path) -> dict[str, int]:
    """Write train/dev/test.{en,fr} into `out`; return the pair count per split."""
    splits = {"train": train_pairs(real)}
    for split, pattern in NEWSTEST.items():
        splits[split] = {lang: read_lines(real / pattern.format(lang=lang)) for lang in LANGS}
    out.mkdir(parents=True, exist_ok=True)
    for split, sides in splits.items():
        for lang, lines in sides.items():
            atomic_write_lines(out / f"{split}.{lang}", lines)
    return {split: len(sides["en"]) for split, sides in splits.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out_dir", type=Path, help="where train/dev/test.{en,fr} are written")
    parser.add_argument("--shared", type=Path, default=SHARED_REAL,
                        help="the real-data samples (default: ../shared/data/real)")
    args = parser.parse_args(argv)
    if not args.shared.is_dir():
        print(f"real_corpus: {args.shared} not found; nothing to build", file=sys.stderr)
        return 0
    counts = build(args.shared, args.out_dir)
    print(f"real_corpus: wrote {args.out_dir}: "
          + ", ".join(f"{split} {n} pairs" for split, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
