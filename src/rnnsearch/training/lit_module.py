"""TranslationModule: the Lightning shell around the pure-PyTorch Seq2Seq.

Paper: Sec. 4.2 / App. B.2 -- maximise the log-likelihood of the training pairs with minibatch
Adadelta (rho = 0.95, eps = 1e-6) and the gradient L2 norm clipped to 1 (the clipping itself is
Lightning's `gradient_clip_val` with algorithm "norm", set in trainer.py). One `_shared_step` gives
the summed NLL for training and validation; `optim.loss_scale` says what the gradient is taken of
(GroundHog: the sum over the minibatch), while NLL is always logged per token and per sentence.
Greedy BLEU on a fixed dev subset is the only decoding done in training (dev_bleu.py; beam
search: translate.py).
Under DDP the logged train NLL is summed over the ranks' minibatches (token-weighted), the dev
NLL over the ranks' shares of the dev batches (datamodule.py), and greedy BLEU is rank 0's,
broadcast, so every rank logs, checkpoints and stops on the same values.
An update that does not log reads nothing on the host (a read of a GPU tensor waits for the
device): training values are logged on logging steps only (`logs_after_update`), and the
non-finite rules run on the device (nonfinite.py), read at logging steps and other sync points.
Not responsible for data (datamodule.py), run directories (fit.py) or checkpoint files
(checkpointing.py).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import lightning as L
import numpy as np
import torch
from omegaconf import OmegaConf

from rnnsearch.data.batching import Batch
from rnnsearch.data.vocab import PAD_ID
from rnnsearch.models import Seq2Seq, build_model
from rnnsearch.training.budget import optimizer_and_schedule
from rnnsearch.training.dev_bleu import greedy_settings, greedy_translate, log_greedy_bleu
from rnnsearch.training.nonfinite import NonfiniteWatch, shrink_nonfinite

log = logging.getLogger(__name__)


def logs_after_update(trainer: L.Trainer) -> bool:
    """Whether the update now running logs (Lightning writes logged values after every
    `log_every_n_steps`-th update): the only updates that may read device values on the host."""
    every = trainer.log_every_n_steps
    return every > 0 and (trainer.global_step + 1) % every == 0


class NllSums(NamedTuple):
    """Summed NLL over a batch's real target tokens, and what it can be divided by."""

    nll: torch.Tensor  # () sum over every real target token of the batch
    tokens: torch.Tensor  # () real target tokens (EOS included)
    sentences: int  # sentence pairs in the batch


class TranslationModule(L.LightningModule):
    """Trains a Seq2Seq (RNNsearch or RNNencdec) by maximum likelihood.

    Args:
        model_cfg: the `ModelConfig` fields as a plain dict (checkpoints stay weights-only).
        optim_cfg: the `OptimConfig` fields (`optimizer`: `_target_`, `_partial_`, ...;
            `grad_clip_norm`, `loss_scale`, `lr_decay`, ...).
        src_vocab_size: source shortlist size.
        tgt_vocab_size: target shortlist size.
        max_len_ratio: with length_rule "ratio", greedy hypotheses stop at ratio * |x| + offset.
        max_len_offset: see `max_len_ratio`.
        bleu_every_n_evals: greedy dev BLEU on every n-th validation (0: never).
        n_samples: sample translations (and attention maps) logged per BLEU evaluation.
        eval_batch_size: sentences per greedy-decoding batch.
        length_rule: decode.length_rule for greedy dev BLEU (`search.length_limits`).
    """

    def __init__(
        self, model_cfg: dict[str, Any], optim_cfg: dict[str, Any], src_vocab_size: int,
        tgt_vocab_size: int, max_len_ratio: float = 2.0, max_len_offset: int = 10,
        bleu_every_n_evals: int = 1, n_samples: int = 5, eval_batch_size: int = 64,
        length_rule: str = "groundhog",
    ) -> None:
        super().__init__()
        self._nonfinite = NonfiniteWatch(optim_cfg.get("nonfinite", "stop"))
        self.save_hyperparameters()  # plain types only: loadable with torch.load(weights_only=True)
        self.model: Seq2Seq = build_model(OmegaConf.create(model_cfg), src_vocab_size,
                                          tgt_vocab_size)
        self._val_sums = torch.zeros(3, dtype=torch.float64)  # (NLL sum, tokens, sentences)
        self._n_evals = 0
        self._loss_bad: torch.Tensor | None = None  # () this update's loss is not finite
        self._grad_norm: torch.Tensor | None = None  # () this update's norm, before clipping
        self._tokens_since_log: torch.Tensor | None = None  # () target tokens (train/tok_s)
        self._t_log: float | None = None  # when the last logging step had synced

    @classmethod
    def from_config(cls, cfg: Any, src_vocab_size: int, tgt_vocab_size: int
                    ) -> TranslationModule:
        """Build from the root config, as plain containers: checkpoints hold no OmegaConf and
        no Enum (choice keys as their strings), and load with weights_only=True."""
        return cls(
            OmegaConf.to_container(cfg.model, resolve=True, enum_to_str=True),
            OmegaConf.to_container(cfg.optim, resolve=True, enum_to_str=True),
            src_vocab_size, tgt_vocab_size,
            max_len_ratio=cfg.decode.max_len_ratio, max_len_offset=cfg.decode.max_len_offset,
            bleu_every_n_evals=cfg.trainer.bleu_every_n_evals,
            n_samples=cfg.logger.n_sample_translations, eval_batch_size=cfg.decode.batch_size,
            length_rule=str(cfg.decode.length_rule),
        )

    def _shared_step(self, batch: Batch) -> NllSums:
        """Summed NLL of the real target tokens (PAD ignored), with token and sentence counts.

        Shapes: src_ids (B, S); tgt_in, tgt_out (B, T).
        """
        nll = self.model.summed_nll(batch.src_ids, batch.src_mask, batch.tgt_in,
                                    batch.tgt_out, PAD_ID)  # (): fused_output_loss or not
        return NllSums(nll, batch.tgt_mask.sum(), len(batch))

    def training_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        """One update's objective, scaled by `optim.loss_scale`; NLL is logged per token and
        per sentence whatever the scale, on logging steps. A non-finite loss is noted on the
        device (`optim.nonfinite=stop` stops the run at the next check, nonfinite.py)."""
        sums = self._shared_step(batch)
        self._loss_bad = ~torch.isfinite(sums.nll) if self._nonfinite.rule == "stop" else None
        divisor = {"sum": 1, "sentence": sums.sentences, "token": sums.tokens}
        loss = sums.nll / divisor[self.hparams.optim_cfg["loss_scale"]]
        nll, tokens, sentences = self._over_ranks(sums)
        self._tokens_since_log = (tokens if self._tokens_since_log is None
                                  else self._tokens_since_log + tokens)
        if self._logs_now():  # not prog_bar: Lightning would read it on the host every update
            self.log("train/loss", nll / tokens)  # per token (progress.EtaProgressBar shows it)
            self.log("train/nll_sentence", nll / sentences)
            self.log("train/ppl", torch.exp(nll / tokens))
        return {"loss": loss, "nll_sum": nll, "n_tokens": tokens, "n_sentences": sentences}

    def _logs_now(self) -> bool:
        """This update logs (always, for a step called without a Trainer)."""
        return self._trainer is None or logs_after_update(self._trainer)

    def _over_ranks(self, sums: NllSums) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(NLL sum, tokens, sentences) of this update's minibatches on all DDP ranks: one
        all_reduce (float64) under DDP, so train NLL is token-weighted over ranks; this rank's
        own values, untouched, in one process (or a step called without a Trainer)."""
        nll = sums.nll.detach()
        # the sentence count as a fill on the device: no host-to-device copy (which syncs)
        sentences = torch.full((), sums.sentences, dtype=torch.int64, device=nll.device)
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()
                and torch.distributed.get_world_size() > 1):
            return nll, sums.tokens.detach(), sentences
        local = torch.stack([nll.double(), sums.tokens.double(), sentences.double()])  # (3,)
        total = self.trainer.strategy.reduce(local, reduce_op="sum")  # (3,) summed over ranks
        return total[0], total[1], total[2]

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Note a non-finite gradient norm (or loss) on the device; with optim.nonfinite=shrink
        the gradient becomes GroundHog's 0.1 p there. The norm before clipping is logged on
        logging steps, and clipping (`configure_gradient_clipping`) reuses it."""
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        self._grad_norm = torch.nn.utils.get_total_norm(grads)  # ()
        grad_bad = ~torch.isfinite(self._grad_norm)
        self._nonfinite.note(self.global_step, grad_bad, self._loss_bad)
        if self._nonfinite.rule == "shrink":
            shrink_nonfinite(self.model.parameters(), grad_bad)
        if self._logs_now():
            self.log("train/grad_norm", self._grad_norm)

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer,
                                    gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """Lightning's norm clipping (`clip_grad_norm_`: the same norm, the same scaling), with
        the norm measured before the update; a shrunk gradient (0.1 p) is not clipped
        (GroundHog): its norm counts as 0 there, so the scale factor is exactly 1."""
        if not gradient_clip_val:
            return
        if gradient_clip_algorithm not in (None, "norm"):
            raise ValueError(f"gradient clipping is by norm (App. B.2), got "
                             f"{gradient_clip_algorithm!r}")
        norm = self._grad_norm
        if self._nonfinite.rule == "shrink":
            norm = torch.where(torch.isfinite(norm), norm, 0.0)  # ()
        torch.nn.utils.clip_grads_with_norm_(self.model.parameters(), gradient_clip_val, norm)

    def on_train_start(self) -> None:  # noqa: D102
        self._nonfinite.start(self.global_step)
        self._tokens_since_log, self._t_log = None, None

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """After a logging step: check the non-finite record (this step's one device sync),
        then log train/tok_s, target tokens per second since the previous logging step."""
        every = self.trainer.log_every_n_steps
        if every <= 0 or self.global_step % every:
            return
        self._nonfinite.check(self.global_step)
        now = time.perf_counter()
        if self._t_log is not None and self._tokens_since_log is not None:
            self.log("train/tok_s", self._tokens_since_log.float() / (now - self._t_log))
        self._tokens_since_log, self._t_log = None, now

    def on_validation_start(self) -> None:  # noqa: D102
        self._nonfinite.check(self.global_step)  # validation syncs anyway

    def on_train_end(self) -> None:  # noqa: D102
        self._nonfinite.check(self.global_step)

    def on_validation_epoch_start(self) -> None:  # noqa: D102
        self._val_sums = torch.zeros(3, dtype=torch.float64, device=self.device)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """Accumulate the dev NLL so the epoch values are per token and per sentence."""
        sums = self._shared_step(batch)
        self._val_sums += torch.stack([sums.nll.double(), sums.tokens.double(),
                                       torch.tensor(float(sums.sentences), dtype=torch.float64,
                                                    device=self.device)])

    def on_validation_epoch_end(self) -> None:
        """Log val/loss and val/ppl over all dev tokens, then greedy BLEU on the dev subset."""
        sums = self.all_gather(self._val_sums)  # each rank validated its own dev batches
        sums = sums.sum(dim=0) if sums.dim() == 2 else sums  # (3,) summed over DDP ranks
        val_loss = (sums[0] / sums[1].clamp(min=1)).float()  # per token: checkpoints, ppl
        self._log_same_on_ranks("val/loss", val_loss, prog_bar=True)
        self._log_same_on_ranks("val/nll_sentence", (sums[0] / sums[2].clamp(min=1)).float())
        self._log_same_on_ranks("val/ppl", torch.exp(val_loss))
        if self.trainer.sanity_checking:
            return
        self._n_evals += 1
        every = self.hparams.bleu_every_n_evals
        if every > 0 and self._n_evals % every == 0:
            log_greedy_bleu(self, self.trainer.datamodule.dev_bleu_set(), self._log_same_on_ranks)

    def _log_same_on_ranks(self, name: str, value: Any, **kwargs: Any) -> None:
        """Log an epoch-level value that is already the same on every DDP rank (gathered or
        broadcast). `sync_dist` with max is exact for identical values (a mean could round), and
        tells Lightning the value is synchronised; in one process it is a no-op."""
        self.log(name, value, sync_dist=True, reduce_fx="max", **kwargs)

    def greedy_translate(self, srcs: list[np.ndarray]) -> tuple[list[list[int]], list[Any]]:
        """Greedy hypotheses (ids without BOS/EOS) and attention (T, S) per source, in order
        (dev_bleu.py, with this module's length rule and batch size)."""
        return greedy_translate(self.model, srcs, greedy_settings(self.hparams), self.device)

    def configure_optimizers(self) -> Any:  # noqa: D102 (budget.optimizer_and_schedule)
        return optimizer_and_schedule(self.hparams.optim_cfg, self)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Check the non-finite record first (no checkpoint of weights a non-finite update made
        under `stop`), then keep the evaluation counter so `bleu_every_n_evals` stays in phase
        after a resume."""
        self._nonfinite.check(self.global_step)
        checkpoint["n_evals"] = self._n_evals

    def on_load_checkpoint(self, checkpoint: Mapping[str, Any]) -> None:  # noqa: D102
        self._n_evals = int(checkpoint.get("n_evals", 0))


def perplexity(nll: float) -> float:
    """exp(NLL per token), inf on overflow."""
    try:
        return math.exp(nll)
    except OverflowError:
        return math.inf
