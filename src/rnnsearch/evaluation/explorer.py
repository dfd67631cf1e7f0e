"""The alignment explorer: reports/alignments.html, one self-contained page of the test set.

Paper: Figure 3 (alpha_ij heat maps of generated against source words), here for every test
sentence of every RNNsearch model, beside its source, reference, hypothesis and sentence BLEU
(sacreBLEU's `sentence_bleu`, 13a, on the detokenized hypothesis against the raw reference).
With subword units (`data.units: bpe`) the source and hypothesis are shown as the pieces alpha
is over (`with_source_pieces`; the hypothesis rows from the stored matrices); the reference,
the sentence BLEU and the length buckets stay over words.
The page needs no server and no network: data, script and style are inline. To stay small, each
alpha matrix covers only the words shown (the hypothesis rows and source columns, each with its
end-of-sentence position), rounded to one base-36 digit per cell and without the zero cells at
either end of a row (`encode_matrix`); source and reference are stored once for all models.
Not responsible for decoding (translate.py writes the matrices) nor for the page's script
(explorer_page.py).
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sacrebleu import sentence_bleu

from rnnsearch.data.parallel_files import read_lines
from rnnsearch.data.subwords import SubwordModel
from rnnsearch.evaluation.alignment import load_examples
from rnnsearch.evaluation.bleu import adapt_length_edges, length_buckets
from rnnsearch.evaluation.explorer_page import PAGE
from rnnsearch.heatmap import AlignmentExample

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
LEVELS = len(DIGITS) - 1  # alpha ~ digit / 35: at most 1/70 off, one byte per cell
FULL_ATTENTION = "test.attention.npz"  # every test sentence (save_examples format), if written
EXAMPLE_ATTENTION = "attention.npz"  # Figure 3's examples only: the fallback


@dataclass(frozen=True)
class SplitText:
    """The test set's words as the explorer shows them, one entry per sentence."""

    src_tok: list[str]
    ref_tok: list[str]
    ref_raw: list[str]


def encode_matrix(weights: np.ndarray) -> str:
    """alpha (T, S) in [0, 1] -> its rows, comma-separated, each as "<lead>.<digits>".

    Each cell is alpha rounded to a multiple of 1/LEVELS, written as one base-36 digit; a row
    keeps only its span from the first to the last non-zero cell, after the number of zero
    cells before it (an all-zero row is empty). "2.0z1" with 6 columns is 0 0 0 1 1/35 0.
    """
    levels = np.rint(np.clip(np.asarray(weights, dtype=np.float64), 0.0, 1.0) * LEVELS)
    rows = []
    for row in levels.astype(np.int64):  # (S,)
        nonzero = np.flatnonzero(row)
        if not len(nonzero):
            rows.append("")
            continue
        lo, hi = int(nonzero[0]), int(nonzero[-1]) + 1
        rows.append(f"{lo}." + "".join(DIGITS[k] for k in row[lo:hi]))
    return ",".join(rows)


def decode_matrix(cells: str, n_cols: int) -> np.ndarray:
    """Inverse of `encode_matrix`, as the page's script reads it: (T, S) floats."""
    rows = []
    for text in cells.split(","):
        row = np.zeros(n_cols)  # (S,)
        if text:
            lead, digits = text.split(".")
            row[int(lead):int(lead) + len(digits)] = [DIGITS.index(c) / LEVELS for c in digits]
        rows.append(row)
    return np.stack(rows)  # (T, S)


def bucket_labels(src_lengths: Sequence[int], edges: Sequence[int],
                  min_sentences: int) -> tuple[list[str], list[str]]:
    """(bucket names in order, each sentence's bucket): Figure 2's buckets for this test set."""
    buckets = length_buckets(adapt_length_edges(src_lengths, edges, min_sentences))
    names = [name for name, _, _ in buckets]
    his = [hi for _, _, hi in buckets[:-1]]
    return names, [names[int(np.searchsorted(his, n, side="right"))] for n in src_lengths]


def load_attention(trans_dir: Path) -> dict[int, AlignmentExample]:
    """alpha (T, S) with its row and column tokens per test sentence index: all of them if
    translate wrote them, else Fig. 3's."""
    for name in (FULL_ATTENTION, EXAMPLE_ATTENTION):
        if (trans_dir / name).is_file():
            return {e.index: e for e in load_examples(trans_dir / name)}
    return {}


def with_source_pieces(text: SplitText, model: SubwordModel) -> SplitText:
    """`text` with its source segmented into `model`'s pieces (`data.units: bpe`): the page
    labels alpha's columns with the source line, so it shows what attention is over."""
    pieces = model.segment_many([line.split() for line in text.src_tok])
    return dataclasses.replace(text, src_tok=[" ".join(p) for p in pieces])


def sentence_entries(text: SplitText, buckets: list[str]) -> list[dict]:
    """What every model shares, per test sentence: source, reference and length bucket."""
    return [{"s": src, "r": ref, "k": bucket}
            for src, ref, bucket in zip(text.src_tok, text.ref_tok, buckets, strict=True)]


def model_entry(label: str, trans_dir: Path, text: SplitText) -> dict:
    """The page's data of one model: per test sentence its hypothesis, sentence BLEU and alpha
    (where stored)."""
    hyp_tok = read_lines(trans_dir / "test.hyp.tok")
    hyp_detok = read_lines(trans_dir / "test.hyp.detok")
    if not len(hyp_tok) == len(hyp_detok) == len(text.src_tok):
        raise ValueError(f"{trans_dir}: test.hyp.tok has {len(hyp_tok)} lines, test.hyp.detok "
                         f"{len(hyp_detok)}, the test set {len(text.src_tok)}")
    attention = load_attention(trans_dir)
    sentences = []
    for i, hyp in enumerate(hyp_tok):
        record = {"h": hyp, "b": round(sentence_bleu(hyp_detok[i], [text.ref_raw[i]]).score, 1)}
        if i in attention:
            alpha = np.asarray(attention[i].weights)  # (T, S): hypothesis + EOS rows, source +
            record.update(w=int(alpha.shape[1]), a=encode_matrix(alpha))  # EOS columns
            record["h"] = " ".join(attention[i].hyp_tokens)  # its rows: words, or pieces (bpe)
        sentences.append(record)
    return {"name": label, "sentences": sentences}


def page_data(test: list[dict], models: list[dict], bucket_names: list[str]) -> dict:
    """Everything the page's script reads."""
    return {"levels": LEVELS, "digits": DIGITS, "buckets": bucket_names, "test": test,
            "models": models}


def script_json(data: dict) -> str:
    """JSON safe inside <script>: `<`, `>` and `&` escaped, so no word can end the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_page(data: dict, title: str = "RNNsearch alignments") -> str:
    """The whole self-contained HTML page."""
    return PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", script_json(data))


def read_test_text(prepared: Path, src_lang: str, tgt_lang: str) -> SplitText:
    """The prepared test set's tokenized source and reference and its raw reference."""
    return SplitText(read_lines(prepared / f"test.{src_lang}.tok"),
                    read_lines(prepared / f"test.{tgt_lang}.tok"),
                    read_lines(prepared / f"test.{tgt_lang}.raw"))


def has_attention(trans_dir: Path) -> bool:
    """An RNNsearch translation: translate wrote reference links or some alignment matrices
    (its attention.npz is empty for RNNencdec)."""
    return (trans_dir / "test.ref.align").is_file() or bool(load_attention(trans_dir))
