"""`python -m rnnsearch.translate experiment=<exp> input=<file or -> [output=<file>]`.

Reads raw text, one sentence per line, and writes one detokenized translation per line, in
input order, to stdout or `output=`. From stdin (`input=-`) it streams: each line is decoded
as soon as it arrives and its translation flushed (an interactive prompt); from a file all lines
are decoded together in the test stage's length-sorted batches. `decode.n_best=k` writes k lines
per input, `index<TAB>translation<TAB>log p`. `alignments=<file>`: JSON lines with the source
and target tokens, alpha and its argmax links (Pharaoh); `heatmaps=<dir>`: one Figure 3 PNG per
input. An empty line gives an empty line, a byte-order mark before the first line is dropped;
invalid UTF-8 or a line over `decode.max_input_tokens` tokens stops with one error line naming
it (refused, not truncated).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import torch
from omegaconf import DictConfig

from rnnsearch.data.parallel_files import BOM
from rnnsearch.decoding.settings import DecodeSettings, check_input_lengths
from rnnsearch.evaluation.alignment import (
    argmax_links,
    format_pharaoh,
)
from rnnsearch.heatmap import AlignmentExample, plot_alignment
from rnnsearch.inference.translator import Translation, Translator
from rnnsearch.io_utils import atomic_write_lines


def read_input(path: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) per line of `path` or stdin ("-"), decoded as UTF-8.

    A byte-order mark before the first line is dropped, as `prepare` drops it from a corpus: it
    is not text, and left in it would become a source token of the first sentence.
    """
    stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    try:
        for number, raw in enumerate(iter(stream.readline, b""), start=1):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
                yield number, text.removeprefix(BOM) if number == 1 else text
            except UnicodeDecodeError as err:
                name = "stdin" if path == "-" else path
                raise ValueError(f"{name}: line {number} is not valid UTF-8 ({err.reason} at "
                                 f"byte {err.start})") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def output_lines(index: int, t: Translation, n_best: int) -> list[str]:
    """The output of one input: its translation, or its n-best list with log-probabilities."""
    if n_best == 1:
        return [t.text]
    hyps = t.alternatives or [t]
    return [f"{index}\t{h.text}\t{h.score:.4f}" for h in hyps]


def alignment_record(index: int, t: Translation) -> dict[str, Any]:
    """One JSON line: tokens, alpha rounded to 4 places, and its argmax links (Pharaoh)."""
    alpha = None if t.attention is None else t.attention.round(4)
    links = "" if alpha is None else format_pharaoh(
        argmax_links(alpha, len(t.source_tokens), len(t.tokens)))
    return {"index": index, "source": t.source_tokens, "target": t.tokens,
            "alpha": None if alpha is None else alpha.tolist(), "links": links}


class TextSession:
    """Writes translations (and alignments, heat maps) as they are produced."""

    def __init__(self, cfg: DictConfig, out: TextIO, n_best: int) -> None:
        self.cfg, self.out, self.n_best, self.lines, self.records = cfg, out, n_best, [], []
        self.heatmaps = Path(cfg.heatmaps) if cfg.get("heatmaps") else None
        if self.heatmaps:
            self.heatmaps.mkdir(parents=True, exist_ok=True)

    def emit(self, index: int, t: Translation) -> None:
        """Write one input's output lines (flushed), keep its alignment record."""
        lines = output_lines(index, t, self.n_best)
        if self.cfg.get("output"):
            self.lines.extend(lines)
        else:
            self.out.write("".join(f"{line}\n" for line in lines))
            self.out.flush()
        if self.cfg.get("alignments"):
            self.records.append(json.dumps(alignment_record(index, t), ensure_ascii=False))
        if self.heatmaps and t.attention is not None:
            plot_alignment(AlignmentExample(index, t.source_tokens, t.tokens, t.attention),
                           self.heatmaps / f"alignment_{index:05d}.png")

    def close(self) -> None:
        """Write output= and alignments= files (temp file, then renamed)."""
        if self.cfg.get("output"):
            atomic_write_lines(self.cfg.output, self.lines)
        if self.cfg.get("alignments"):
            atomic_write_lines(self.cfg.alignments, self.records)


def run_text(cfg: DictConfig, settings: DecodeSettings,
             out: TextIO | None = None) -> dict[str, Any]:
    """Translate `cfg.input` with the model in `cfg.paths.model_dir` under `settings` (the
    entry's, from the composed `decode` config); a small summary."""
    use_gpu = cfg.trainer.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    # every decode option (its default and its meaning) is the API's: the Translator decodes
    # with `settings` whole, and nothing here overrides them
    translator = Translator.from_dir(cfg.paths.model_dir, "cuda" if use_gpu else "cpu",
                                     settings=settings)
    session, n = TextSession(cfg, out or sys.stdout, translator.settings.n_best), 0
    if cfg.input == "-":  # streaming: one sentence at a time
        for number, line in read_input("-"):
            session.emit(number - 1, _one(translator, line, number))
            n += 1
    else:
        lines = [line for _, line in read_input(cfg.input)]
        for i, t in enumerate(_all(translator, cfg.input, lines)):
            session.emit(i, t)
        n = len(lines)
    session.close()
    return {"sentences": n, "model_dir": str(cfg.paths.model_dir)}


def _one(translator: Translator, line: str, number: int) -> Translation:
    tokens = translator.tokenize(line)
    check_input_lengths([len(tokens)], translator.max_input_tokens, "stdin", start=number)
    return translator.translate_tokens([tokens])[0]


def _all(translator: Translator, path: str, lines: list[str]) -> list[Translation]:
    tokens = [translator.tokenize(line) for line in lines]
    check_input_lengths(map(len, tokens), translator.max_input_tokens, path)
    return translator.translate_tokens(tokens)
