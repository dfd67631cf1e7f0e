"""Greedy BLEU on a fixed dev subset at validation (`val/bleu_greedy`): training's only decoding.

A progress signal of ours, not a paper number (Table 1 is translate_stage.py's beam search):
the dev subset is decoded greedily, shortest sentences first, with the decode config's length
rule, scored with tokenized BLEU, and a few sample translations (with their attention) go to the
logger. Under DDP only rank 0 decodes; the score is broadcast so that every rank logs, checkpoints
and stops on the same value.
Not responsible for the dev NLL or when BLEU runs (`bleu_every_n_evals`: lit_module.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import numpy as np
import torch

from rnnsearch.data.subwords import to_words
from rnnsearch.decoding.corpus import decode_corpus
from rnnsearch.decoding.settings import DecodeSettings
from rnnsearch.evaluation.bleu import TOKENIZED, corpus_bleu
from rnnsearch.training.loggers import log_translation_samples


def greedy_settings(hparams: Mapping[str, Any]) -> DecodeSettings:
    """The plain greedy search of dev BLEU, from the module's saved hyperparameters (plain
    values, as checkpoints hold them: `TranslationModule.from_config` takes them from `decode`)."""
    return DecodeSettings(length_rule=hparams["length_rule"],
                          max_len_ratio=hparams["max_len_ratio"],
                          max_len_offset=hparams["max_len_offset"],
                          batch_size=hparams["eval_batch_size"], greedy=True)


@torch.no_grad()
def greedy_translate(model: Any, srcs: list[np.ndarray], settings: DecodeSettings,
                     device: torch.device) -> tuple[list[list[int]], list[Any]]:
    """Greedy hypotheses (ids without BOS/EOS) and attention (T, S) per source, in order."""
    best = [hyps[0] for hyps in decode_corpus(model, srcs, settings, device,
                                              order="shortest_first")]
    return [h.ids for h in best], [h.attention for h in best]


def log_greedy_bleu(module: L.LightningModule, dev: Any,
                    log_same_on_ranks: Callable[..., None]) -> None:
    """Greedy-decode the dev subset on rank 0, log val/bleu_greedy (broadcast, so every
    rank logs the same value) and a few sample translations."""
    bleu = None
    if module.trainer.is_global_zero:
        with module.trainer.precision_plugin.forward_context():
            hyps, attention = module.greedy_translate(dev.src)
        texts = [" ".join(to_words(dev.tgt_vocab.decode(h), dev.units)) for h in hyps]
        bleu = corpus_bleu(texts, dev.refs, tokenize=TOKENIZED).score
        k = min(module.hparams.n_samples, len(texts))
        samples = [dict(source=dev.src_vocab.decode(dev.src[i]),
                        reference=dev.refs[i].split(), hypothesis=texts[i].split(),
                        attention=attention[i]) for i in range(k)]
        log_translation_samples(module.logger, samples, module.global_step)
    bleu = module.trainer.strategy.broadcast(bleu, src=0)  # the other ranks waited here
    log_same_on_ranks("val/bleu_greedy", bleu, prog_bar=True)
    log_same_on_ranks("val/bleu_step", float(module.global_step),
                      logger=False)  # record.BLEU_STEP
