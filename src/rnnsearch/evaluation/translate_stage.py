"""DVC stage `translate@<exp>`: beam-decode the test set with an experiment's Table 1 checkpoint
(`eval.checkpoint`: best.ckpt, lowest dev NLL, or last.ckpt, as training ended; checkpoint.py).

Paper: Sec. 3 / App. A (beam search for argmax_y p(y | x)); Figure 3. Writes to
`cfg.paths.translation_dir`: test.hyp.tok (Moses-tokenized, with [UNK]), test.hyp.detok,
attention.npz (Figure 3 examples, over pieces with `data.units: bpe`, where test.hyp.tok still
holds words, the pieces joined; chosen among sentences whose teacher-forced argmax alignment,
the model's own, reorders words; none for RNNencdec), test.attention.npz (alpha of every
test sentence, same format: the alignment explorer's heat maps), test.ref.align (RNNsearch:
the argmax links of alpha over the teacher-forced reference, Pharaoh format, scored as AER by
evaluate.py), translate.json.
With `decode.ignore_unk` (Table 1's "(o) We disallowed the models to generate [UNK] tokens"),
the No-UNK subset (`metrics.no_unk_indices`) is decoded a second time with [UNK] forbidden
into test.no_unk.hyp.{tok,detok}, one line per subset sentence in test order. The All column
allows [UNK] whatever `decode.ignore_unk` says: Table 1 counts the [UNK] a model emits there.
Scoring is evaluate.py's job. The decode settings are the entry's (`rnnsearch.translate`,
built once from the composed `decode` config) and are recorded whole in translate.json, with the
model config the checkpoint was rebuilt with: the report prints what was translated.
Not responsible for translating raw text (`input=`: the entry dispatches to inference/shell.py).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from rnnsearch.data.guards import check_checkpoint_data
from rnnsearch.data.moses import detokenize_lines, tokenize_line
from rnnsearch.data.parallel_files import load_split, read_lines
from rnnsearch.data.subwords import BPE, desegment, load_models
from rnnsearch.data.vocab import UNK, UNK_ID, Vocabulary
from rnnsearch.decoding.corpus import decode_corpus
from rnnsearch.decoding.settings import DecodeSettings, check_input_lengths
from rnnsearch.evaluation.alignment import (
    argmax_links,
    choose_examples,
    format_pharaoh,
    has_crossing,
    reference_attention,
    save_examples,
)
from rnnsearch.evaluation.bleu import no_unk_indices
from rnnsearch.evaluation.checkpoint import load_model, table1_checkpoint
from rnnsearch.heatmap import AlignmentExample
from rnnsearch.io_utils import atomic_write_json, atomic_write_lines

log = logging.getLogger(__name__)


NO_UNK_HYP = "test.no_unk.hyp"  # + .tok / .detok: the No-UNK column's own decode


def decode_test(
    model: Any, srcs: list[np.ndarray], settings: DecodeSettings, device: torch.device,
) -> tuple[list[list[int]], list[np.ndarray | None]]:
    """Beam-decode longest first (`decoding.corpus`); (ids, alpha) per sentence, in order."""
    best = [hyps[0] for hyps in decode_corpus(model, srcs, settings, device)]
    return [h.ids for h in best], [h.attention for h in best]


def hypothesis_lines(tokens: list[list[str]], units: str,
                     lang: str) -> tuple[list[str], list[str]]:
    """(test.hyp.tok, test.hyp.detok) lines of decoded tokens. Words: the tokens, then their
    detokenisation. Subwords: the pieces joined into words (`subwords.desegment`) and
    detokenized, and test.hyp.tok the Moses tokenization of that text, as `prepare` tokenized
    the references (a piece sequence such as "." "'" joins into one token Moses would split)."""
    if units != BPE:
        tok = [" ".join(t) for t in tokens]
        return tok, detokenize_lines(tok, lang)
    detok = detokenize_lines([" ".join(desegment(t)) for t in tokens], lang)
    return [" ".join(_moses_words(line, lang)) for line in detok], detok


def _moses_words(line: str, lang: str) -> list[str]:
    """Moses tokens of a detokenized line, each [UNK] kept whole (Moses would split it)."""
    words: list[str] = []
    for k, part in enumerate(line.split(UNK)):
        words += ([UNK] if k else []) + (tokenize_line(part.strip(), lang) if part.strip() else [])
    return words


def run(cfg: DictConfig, settings: DecodeSettings) -> dict[str, Any]:
    """Translate the prepared test set with `settings` (summary also written to
    translate.json)."""
    prepared, out_dir = Path(cfg.data.prepared_dir), Path(cfg.paths.translation_dir)
    src_lang, tgt_lang = cfg.data.src_lang, cfg.data.tgt_lang
    test = load_split(prepared, "test")  # first: a missing `prepare` names its command
    vocab_paths = (prepared / f"vocab.{src_lang}.txt", prepared / f"vocab.{tgt_lang}.txt")
    src_vocab, tgt_vocab = (Vocabulary.load(p) for p in vocab_paths)
    units = cfg.data.get("units", "word")  # bpe: ids are pieces, test.hyp.tok holds words
    models = (load_models(prepared, (src_lang, tgt_lang), (src_vocab, tgt_vocab), vocab_paths)
              if units == BPE else None)
    use_gpu = cfg.trainer.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    device = torch.device("cuda" if use_gpu else "cpu")
    choice = table1_checkpoint(cfg.eval, cfg.experiment_name)
    model, ckpt = load_model(cfg.model, Path(cfg.paths.model_dir) / f"{choice}.ckpt",
                             *vocab_paths, len(src_vocab), len(tgt_vocab), device)
    check_checkpoint_data(ckpt.prepared_data, prepared, ckpt.path)  # the same words per id
    src_tok = read_lines(prepared / f"test.{src_lang}.tok")
    check_input_lengths((len(s.split()) for s in src_tok), settings.max_input_tokens,
                        str(prepared / f"test.{src_lang}.tok"))
    links = reference_links(model, test, settings.batch_size, device, out_dir)
    chosen = choose_examples([len(s) for s in test.src], cfg.decode.n_alignment_examples,
                             exclude=[bool(np.any(s == UNK_ID)) for s in test.src],
                             prefer=None if links is None else [has_crossing(x) for x in links])
    start = time.perf_counter()
    all_column = dataclasses.replace(settings, ignore_unk=False)  # Table 1 counts [UNK]
    hyps, attention = decode_test(model, test.src, all_column, device)
    seconds = time.perf_counter() - start
    hyp_tok, hyp_detok = hypothesis_lines([tgt_vocab.decode(h) for h in hyps], units, tgt_lang)
    atomic_write_lines(out_dir / "test.hyp.tok", hyp_tok)
    atomic_write_lines(out_dir / "test.hyp.detok", hyp_detok)
    src_units = [s.split() for s in src_tok] if models is None else models[0].segment_many(
        [s.split() for s in src_tok])  # what alpha's columns are: words or pieces
    examples = [AlignmentExample(i, src_units[i], tgt_vocab.decode(hyps[i]), attention[i])
                for i in range(len(hyps)) if attention[i] is not None]  # none for RNNencdec
    keep = set(chosen)
    save_examples(out_dir / "attention.npz", [e for e in examples if e.index in keep])
    save_examples(out_dir / "test.attention.npz", examples)  # every sentence: the explorer's maps
    no_unk = decode_no_unk(model, test, settings, device, tgt_vocab, units, tgt_lang, out_dir)
    summary = {
        "experiment": cfg.experiment_name, "checkpoint": {**ckpt.to_dict(), "choice": choice},
        "n_sentences": len(hyps), "n_hyp_tokens": sum(map(len, hyps)),
        "decode": settings.to_dict(), **no_unk,
        "device": str(device), "seconds": round(seconds, 3), "alignment_examples": chosen,
        "sentences_per_second": round(len(hyps) / max(seconds, 1e-9), 3),
    }
    atomic_write_json(out_dir / "translate.json", summary)
    log.info("%s: %d sentences in %.1f s on %s", cfg.experiment_name, len(hyps), seconds, device)
    return summary


def reference_links(model: Any, test: Any, batch_size: int, device: torch.device,
                    out_dir: Path) -> list[set[tuple[int, int]]] | None:
    """RNNsearch: write test.ref.align (argmax of alpha over the reference); None otherwise."""
    path = out_dir / "test.ref.align"
    if not model.has_attention:
        path.unlink(missing_ok=True)
        return None
    alphas = reference_attention(model, test.src, test.tgt, batch_size, device)
    links = [argmax_links(a, len(x), len(y)) for a, x, y in zip(alphas, test.src, test.tgt,
                                                                 strict=True)]
    atomic_write_lines(path, [format_pharaoh(x) for x in links])
    return links


def decode_no_unk(model: Any, test: Any, settings: DecodeSettings, device: torch.device,
                  tgt_vocab: Vocabulary, units: str, tgt_lang: str,
                  out_dir: Path) -> dict[str, Any]:
    """Decode the No-UNK subset with [UNK] forbidden (if `settings.ignore_unk`, from
    decode.ignore_unk); summary fields."""
    if not settings.ignore_unk:  # evaluate.py scores the column from test.hyp.*; no stale files
        for ext in ("tok", "detok"):
            (out_dir / f"{NO_UNK_HYP}.{ext}").unlink(missing_ok=True)
        return {"ignore_unk": False}
    keep = no_unk_indices(test.src, test.tgt, UNK_ID)
    start = time.perf_counter()
    hyps, _ = decode_test(model, [test.src[i] for i in keep], settings, device)
    seconds = time.perf_counter() - start
    hyp_tok, hyp_detok = hypothesis_lines([tgt_vocab.decode(h) for h in hyps], units, tgt_lang)
    atomic_write_lines(out_dir / f"{NO_UNK_HYP}.tok", hyp_tok)
    atomic_write_lines(out_dir / f"{NO_UNK_HYP}.detok", hyp_detok)
    return {"ignore_unk": True, "n_no_unk_sentences": len(keep),
            "no_unk_files": {ext: f"{NO_UNK_HYP}.{ext}" for ext in ("tok", "detok")},
            "no_unk_seconds": round(seconds, 3)}
