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

`--units word bpe` then also runs the measurement, once per unit (`data.units`, docs/data.md):
prepare, RNNsearch-30 and RNNencdec-30 trained two at once (`train_many --jobs 2`), translate
and evaluate, each unit under its own `--root/<unit>` (artifacts and reports), and prints per
model the tokenized BLEU All, the [UNK] share of the output, updates, epochs and training
minutes. Arguments after `--` are passed to every stage (a smoke run:
`-- trainer.max_time=00:00:01:00`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from rnnsearch.data.moses import detokenize_lines
from rnnsearch.io_utils import atomic_write_lines

SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
LANGS = ("en", "fr")
EUROPARL = "europarl-v7-fr-en-sample-{kind}/europarl-v7.fr-en.{lang}"
NEWSTEST = {"dev": "newstest2012/newstest2012.{lang}", "test": "newstest2013/newstest2013.{lang}"}
EXPERIMENTS = ("rnnsearch_30", "rnnencdec_30")  # the slower first (train_many's advice)


def read_lines(path: Path) -> list[str]:
    """The file's lines without their line ends (UTF-8)."""
    return path.read_text(encoding="utf-8").split("\n")[:-1] if path.stat().st_size else []


def _key(sentence: str) -> str:
    """Whitespace-free form: the same sentence raw and tokenized-then-detokenized compare equal."""
    return "".join(sentence.split())


def train_pairs(real: Path) -> dict[str, list[str]]:
    """Raw Europarl sample + the detokenized tokenized sample's pairs not already in it."""
    raw = {lang: read_lines(real / EUROPARL.format(kind="raw", lang=lang)) for lang in LANGS}
    tok = {lang: detokenize_lines(read_lines(real / EUROPARL.format(kind="tok", lang=lang)), lang)
           for lang in LANGS}  # Moses escaping and tokenisation undone
    seen = {_key(s) for s in raw["en"]}
    extra = [k for k, s in enumerate(tok["en"]) if _key(s) not in seen]
    return {lang: raw[lang] + [tok[lang][k] for k in extra] for lang in LANGS}


def short_pairs(sides: dict[str, list[str]], max_words: int) -> dict[str, list[str]]:
    """The pairs whose two sides both have 1..max_words whitespace words."""
    keep = [k for k in range(len(sides["en"]))
            if all(0 < len(sides[lang][k].split()) <= max_words for lang in LANGS)]
    return {lang: [sides[lang][k] for k in keep] for lang in LANGS}


def build(real: Path, out: Path, max_words: int = 0) -> dict[str, int]:
    """Write train/dev/test.{en,fr} into `out`; return the pair count per split. With
    `max_words`, every split keeps only its pairs of at most that many words per side."""
    splits = {"train": train_pairs(real)}
    for split, pattern in NEWSTEST.items():
        splits[split] = {lang: read_lines(real / pattern.format(lang=lang)) for lang in LANGS}
    if max_words:
        splits = {split: short_pairs(sides, max_words) for split, sides in splits.items()}
    out.mkdir(parents=True, exist_ok=True)
    for split, sides in splits.items():
        for lang, lines in sides.items():
            atomic_write_lines(out / f"{split}.{lang}", lines)
    return {split: len(sides["en"]) for split, sides in splits.items()}


def _stage(*args: str) -> None:
    """Run one `python -m rnnsearch.<stage>` command; stop on failure."""
    print("real_corpus: $ python", " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], check=True)


def measure(raw_dir: Path, root: Path, units: str, extra: list[str]) -> list[dict]:
    """prepare -> train_many (2 jobs) -> translate -> evaluate with `data.units=units`; a row
    per model with what the README's real-corpus table reports."""
    common = ["data=parallel_text", f"data.raw_dir={raw_dir.resolve()}", "data.src_lang=en",
              "data.tgt_lang=fr", f"data.units={units}", f"paths.root_dir={root.resolve()}",
              *extra]
    _stage("-m", "rnnsearch.prepare", *common)
    _stage("-m", "rnnsearch.train_many", "--jobs", "2", *EXPERIMENTS, "--", *common)
    rows = []
    for exp in EXPERIMENTS:
        _stage("-m", "rnnsearch.translate", *common, f"experiment={exp}")
        _stage("-m", "rnnsearch.evaluate", *common, f"experiment={exp}")
        details = json.loads((root / "reports/details" / f"{exp}.json").read_text())
        metrics = json.loads((root / "reports/metrics" / f"{exp}.json").read_text())
        summary = json.loads((root / "artifacts/models" / exp / "summary.json").read_text())
        rows.append({"units": units, "model": exp, "bleu": metrics["bleu"]["all"],
                     "unk_share": details["unk_share"], "updates": summary.get("updates"),
                     "epochs": summary.get("epochs"),
                     "minutes": round(60 * summary["hours"], 1) if summary.get("hours") else None,
                     "stop_reason": summary.get("stop_reason"),
                     "budget": (summary.get("budget") or {}).get("updates")})
    return rows


def print_rows(rows: list[dict]) -> None:
    """The measurement as a Markdown table (the README's real-corpus table's columns)."""
    print("| units | model | BLEU All (tokenized) | [UNK] share of output | updates (of budget) "
          "| epochs | training minutes | stop |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        epochs = "" if r["epochs"] is None else f"{r['epochs']:.2f}"
        print(f"| {r['units']} | {r['model']} | {r['bleu']} | {100 * r['unk_share']:.1f}% | "
              f"{r['updates']}{f' of {b}' if (b := r['budget']) else ''} | {epochs} | "
              f"{r['minutes']} | {r['stop_reason']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out_dir", type=Path, help="where train/dev/test.{en,fr} are written")
    parser.add_argument("--shared", type=Path, default=SHARED_REAL,
                        help="the real-data samples (default: ../shared/data/real)")
    parser.add_argument("--units", nargs="*", choices=("word", "bpe"), default=[],
                        help="also measure: prepare, train two models, evaluate, per unit")
    parser.add_argument("--max-words", type=int, default=0,
                        help="a short-sentence corpus: keep pairs of at most this many words "
                             "per side in every split (0: all)")
    parser.add_argument("--root", type=Path, default=Path("artifacts/real_corpus"),
                        help="the measurement's outputs, one directory per unit")
    args, extra = parser.parse_known_args(argv)
    if extra and extra[0] == "--":
        extra = extra[1:]
    if not args.shared.is_dir():
        print(f"real_corpus: {args.shared} not found; nothing to build", file=sys.stderr)
        return 0
    counts = build(args.shared, args.out_dir, args.max_words)
    print(f"real_corpus: wrote {args.out_dir}: "
          + ", ".join(f"{split} {n} pairs" for split, n in counts.items()))
    rows = [row for units in args.units
            for row in measure(args.out_dir, args.root / units, units, extra)]
    if rows:
        print_rows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
