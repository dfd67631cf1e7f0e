"""Translator: raw sentences in, detokenized translations with scores and attention out.

Paper: Sec. 3 / App. A (beam search for argmax_y p(y | x)); the optional [UNK] replacement is
Jean et al. (2015) / Luong et al. (2015), not the paper's: each [UNK] of the output becomes the
source word with the highest attention weight. Tokenization is `prepare`'s (data/moses.py), the
search is the one corpus decoder (`decoding.corpus.decode_corpus`) that the test-set stage uses.

    from rnnsearch import Translator
    translator = Translator.from_dir("artifacts/models/rnnsearch_50")
    best, = translator.translate(["The cat sat on the mat ."])  # conf/decode's defaults
    print(best.text, best.score, best.attention.shape)

The defaults are those of `python -m rnnsearch.translate input=...`, from the same place: the
decode config (conf/decode/beam.yaml), built into `DecodeSettings` by `from_config` for both.
One model with default settings gives one translation through either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnsearch.data.moses import clean_line, detokenize_lines, tokenize_line
from rnnsearch.data.subwords import SubwordModel, desegment, load_models
from rnnsearch.data.tokenized_pairs import encode_all
from rnnsearch.data.vocab import UNK, Vocabulary
from rnnsearch.decoding.corpus import decode_corpus
from rnnsearch.decoding.search import Hypothesis
from rnnsearch.decoding.settings import DecodeSettings, check_input_lengths
from rnnsearch.evaluation.checkpoint import load_model
from rnnsearch.inference.model_dir import TokenizerSettings, read_model_dir


@dataclass(frozen=True)
class Translation:
    """One hypothesis for one input sentence.

    Attributes:
        text: the detokenized translation.
        tokens: its tokens (Moses-tokenized, [UNK] kept unless replaced); with subword units
            (`data.units: bpe`) its pieces, which `attention` is over.
        score: log p(y | x) of the hypothesis (EOS included when emitted).
        attention: alpha (|y| + 1 if EOS emitted, |x| + 1) over the source tokens then EOS;
            None for RNNencdec or an empty input.
        source_tokens: the tokenized input (its pieces with subword units).
        alternatives: the n-best list, best first (the first is this translation).
    """

    text: str
    tokens: list[str]
    score: float
    attention: np.ndarray | None
    source_tokens: list[str]
    alternatives: list[Translation] = field(default_factory=list, repr=False)


def replace_unknowns(tokens: Sequence[str], src_tokens: Sequence[str],
                     attention: np.ndarray | None) -> list[str]:
    """Each [UNK] becomes the source word it attends to most (the EOS column left out).

    Shapes: attention (T, S) with T >= len(tokens), S >= len(src_tokens).
    """
    if attention is None or not src_tokens:
        return list(tokens)
    alpha = np.asarray(attention)[:, : len(src_tokens)]  # (T, |x|)
    return [src_tokens[int(alpha[t].argmax())] if tok == UNK else tok
            for t, tok in enumerate(tokens)]


class Translator:
    """A trained model with its vocabularies, tokenizer and decode settings.

    `from_dir` takes the decode settings from the model directory's config.yaml (conf/decode as
    composed for training), or the `DecodeSettings` it is given (the shell passes its own).
    With conf/decode/beam.yaml unchanged, the defaults are: beam_size 10, n_best 1,
    ignore_unk True ([UNK] is never emitted, as in Table 1's No-UNK column), replace_unk False,
    length_rule "groundhog", length_normalize False, max_input_tokens 400. Each option of
    `translate` left at None takes this setting.
    """

    def __init__(self, model: Any, src_vocab: Vocabulary, tgt_vocab: Vocabulary,
                 tokenizer: TokenizerSettings, settings: DecodeSettings, device: torch.device,
                 subwords: tuple[SubwordModel, SubwordModel] | None = None) -> None:
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.tokenizer, self.settings, self.device = tokenizer, settings, device
        self.max_input_tokens = settings.max_input_tokens
        self.subwords = subwords  # (source, target) sentencepiece models; None: word units

    @classmethod
    def from_dir(cls, model_dir: str | Path, device: str | torch.device = "cpu",
                 checkpoint: str = "best.ckpt",
                 settings: DecodeSettings | None = None) -> Translator:
        """Load `<model_dir>/<checkpoint>` with the directory's own files (`model_dir.py`).

        `settings`: the decode settings to use (the shell's, built once from its composed
        config); None: `DecodeSettings.from_config` of the decode config trained with.
        """
        files = read_model_dir(model_dir)
        cfg, dev = files.config, torch.device(device)
        src_vocab, tgt_vocab = Vocabulary.load(files.src_vocab), Vocabulary.load(files.tgt_vocab)
        model, _ = load_model(cfg.model, files.root / checkpoint, files.src_vocab,
                              files.tgt_vocab, len(src_vocab), len(tgt_vocab), dev)
        subwords = (load_models(files.root, (cfg.data.src_lang, cfg.data.tgt_lang),
                                (src_vocab, tgt_vocab), (files.src_vocab, files.tgt_vocab))
                    if files.subword_models else None)
        return cls(model, src_vocab, tgt_vocab, files.tokenizer,
                   settings or DecodeSettings.from_config(cfg.decode), dev, subwords)

    def tokenize(self, line: str) -> list[str]:
        """Clean and Moses-tokenize one raw line exactly as `prepare` did."""
        text = clean_line(line)
        tokens = tokenize_line(text, self.tokenizer.src_lang) if text else []
        return [t.lower() for t in tokens] if self.tokenizer.lowercase else tokens

    def translate(self, sentences: Sequence[str], beam_size: int | None = None,
                  n_best: int | None = None, ignore_unk: bool | None = None,
                  replace_unk: bool | None = None) -> list[Translation]:
        """Translate raw sentences; one `Translation` (with its n-best list) per sentence.

        Args:
            sentences: raw text, one sentence each (tokenized as `prepare` did).
            beam_size: hypotheses kept per step (`decode.beam_size`, 10).
            n_best: hypotheses returned per sentence, best first (`decode.n_best`, 1).
            ignore_unk: never emit [UNK], log p([UNK]) = -inf (`decode.ignore_unk`, True).
            replace_unk: each [UNK] becomes its most attended source word
                (`decode.replace_unk`, False; only has an effect with ignore_unk False).
            An option left at None takes the Translator's setting (the defaults given above,
            those of the decode config).

        Raises:
            ValueError: one line, for a sentence over `max_input_tokens` tokens.
        """
        return self.translate_tokens([self.tokenize(s) for s in sentences], beam_size, n_best,
                                     ignore_unk, replace_unk)

    def translate_tokens(self, sentences: Sequence[list[str]], beam_size: int | None = None,
                         n_best: int | None = None, ignore_unk: bool | None = None,
                         replace_unk: bool | None = None) -> list[Translation]:
        """As `translate`, for already tokenized sentences (Moses words; a subword model
        segments them into its pieces). Empty ones give empty results."""
        check_input_lengths(map(len, sentences), self.max_input_tokens, "input")
        asked = {"beam_size": beam_size, "n_best": n_best, "ignore_unk": ignore_unk,
                 "replace_unk": replace_unk}
        settings = dataclasses.replace(
            self.settings, **{k: v for k, v in asked.items() if v is not None})
        if self.subwords:
            sentences = self.subwords[0].segment_many(sentences)
        todo = [i for i, toks in enumerate(sentences) if toks]
        ids = [np.asarray(x, dtype=np.int64)
               for x in encode_all(self.src_vocab, [sentences[i] for i in todo])]
        decoded = dict(zip(todo, decode_corpus(self.model, ids, settings, self.device),
                           strict=True))
        return [self._result(sentences[i], decoded.get(i, []), settings.replace_unk)
                for i in range(len(sentences))]

    def _result(self, src: list[str], hyps: list[Hypothesis], replace_unk: bool) -> Translation:
        if not hyps:
            return Translation("", [], 0.0, None, src)
        out = []
        for h in hyps:
            tokens = self.tgt_vocab.decode(h.ids)
            if replace_unk:  # with pieces: the most attended source piece
                tokens = replace_unknowns(tokens, src, h.attention)
            words = desegment(tokens) if self.subwords else tokens
            text = detokenize_lines([" ".join(words)], self.tokenizer.tgt_lang)[0]
            out.append(Translation(text, tokens, h.score, h.attention, src))
        return dataclasses.replace(out[0], alternatives=out)
