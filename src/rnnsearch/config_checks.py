"""Checks of a composed config that its schema cannot express, run once, right after composing.

`config.py`'s schemas reject an unknown key, a wrong type and a value outside a choice key's
`Enum` while Hydra composes. What is left is checked here, by `check_config`, which every entry
point runs (`cli.user_errors_exit`) before it reads, writes or moves anything (a finished model
directory is never set aside for a config error): numeric ranges (`RANGES`), the keys whose values
mix types (`resume`, `data.vocab_size`) and the rules that tie keys together.
Not responsible for what needs files (prepared data, checkpoints: data/guards.py, resume.py).
"""

from __future__ import annotations

from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from rnnsearch.data.vocab import AUTO_VOCAB

RESUME_MODES = (True, False, "auto")

# Bounds of the numeric keys: key -> (lowest, highest) allowed, None for no bound. OmegaConf checks
# only types when it composes (a dataclass __post_init__ never runs on a merge), so
# `check_ranges` reads this table once the config is composed (`check_config`).
RANGES: dict[str, tuple[float | None, float | None]] = {
    **{f"data.{k}": (1, None) for k in (
        "vocab_size", "max_len", "prepare_max_len", "prepare_workers", "batch_size",
        "sort_batches", "dev_max_len")},
    "data.vocab_size": (5, None),  # the 4 specials and at least one word
    "data.vocab_max": (5, None), "data.vocab_coverage": (0, 1),
    "data.subword_vocab_size": (5, None), "data.pieces_per_word": (1, None),
    "data.num_workers": (0, None), "data.dev_bleu_sentences": (0, None),
    **{f"data.embedded.{k}": (1, None) for k in (
        "n_train", "n_dev", "n_test", "lexicon_size", "max_sentence_len", "length_bucket_width",
        "n_length_buckets")},
    "data.embedded.mean_sentence_len": (1, None), "data.embedded.zipf_exponent": (0, None),
    "data.embedded.zipf_shift": (0, None),
    "data.wmt14.selection_budget_tokens_fr": (1, None),
    "data.wmt14.general_lm_max_pairs": (1, None),
    **{f"model.{k}": (1, None) for k in (
        "emb_dim", "hidden_dim", "attn_dim", "maxout_dim", "maxout_pool")},
    "model.output_rank": (1, None), "model.init_std": (0, None), "model.attn_init_std": (0, None),
    "model.output_loss_chunk": (1, None),
    "optim.optimizer.lr": (0, None), "optim.optimizer.rho": (0, 1),
    "optim.optimizer.eps": (0, None), "optim.optimizer.weight_decay": (0, None),
    "optim.grad_clip_norm": (0, None),
    "optim.lr_min_ratio": (0, 1),
    "trainer.devices": (1, None), "trainer.max_steps": (-1, None),
    "trainer.max_epochs": (-1, None), "trainer.check_val_every_n_epoch": (1, None),
    "trainer.log_every_n_steps": (1, None), "trainer.num_sanity_val_steps": (-1, None),
    "trainer.early_stopping_patience": (1, None), "trainer.keep_last_checkpoints": (0, None),
    "trainer.checkpoint_every_n_steps": (1, None), "trainer.bleu_every_n_evals": (0, None),
    "trainer.num_threads": (1, None),
    "trainer.budget_window": (0, None), "trainer.budget_margin": (0, 1),
    "trainer.budget_warmup": (0, None),
    "decode.beam_size": (1, None), "decode.max_len_ratio": (0, None),
    "decode.max_len_offset": (0, None), "decode.batch_size": (1, None),
    "decode.n_alignment_examples": (0, None), "decode.n_best": (1, None),
    "decode.fallback_max_beam": (1, None), "decode.max_input_tokens": (1, None),
    "eval.min_bucket_sentences": (1, None), "eval.bootstrap_samples": (0, None),
    "logger.n_sample_translations": (0, None),
    "seed": (0, None),
}


def check_ranges(cfg: Any) -> None:
    """Raise one line naming the first key of `RANGES` whose composed value is out of range.

    Keys a config does not have (another primary config) and null values are skipped.

    Raises:
        ValueError: e.g. "data.batch_size=0 is out of range: must be >= 1".
    """
    for key, (low, high) in RANGES.items():
        value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            bound = " and ".join(b for b in (low is not None and f">= {low}",
                                             high is not None and f"<= {high}") if b)
            raise ValueError(f"{key}={value} is out of range: must be {bound}")


def update_budget(cfg: Any) -> int:
    """`trainer.max_steps`, or this experiment's entry of `trainer.max_steps_by_experiment`."""
    return int(cfg.trainer.max_steps_by_experiment.get(cfg.experiment_name,
                                                       cfg.trainer.max_steps))


def check_multirun_devices(devices: int, multirun: bool, launcher_target: str) -> None:
    """Refuse DDP inside a multirun of Hydra's basic launcher, in one line.

    Lightning starts ranks 1.. by re-running the command line, which in a multirun is the whole
    sweep: each extra rank would run every job again. Under the SLURM launcher each task is
    already a rank (tasks_per_node follows trainer.devices; Lightning reads SLURM's variables).

    Raises:
        ValueError: trainer.devices > 1 in a basic-launcher multirun.
    """
    if devices > 1 and multirun and "BasicLauncher" in launcher_target:
        raise ValueError(
            f"trainer.devices={devices} in a Hydra multirun (-m) with hydra/launcher=basic: "
            "Lightning would start each further rank by re-running the whole sweep; use "
            "hydra/launcher=slurm (one task per device) or one run per process without -m")


def _check_value_kinds(cfg: Any) -> None:
    """The keys typed `Any` because their values mix types: `resume` and `data.vocab_size`."""
    resume = OmegaConf.select(cfg, "resume", default="auto")
    if not any(resume is mode or resume == mode for mode in RESUME_MODES):
        raise ValueError(f"resume must be true, false or auto, got {resume!r}")
    vocab = OmegaConf.select(cfg, "data.vocab_size", default=AUTO_VOCAB)
    if vocab != AUTO_VOCAB and (isinstance(vocab, bool) or not isinstance(vocab, int)):
        raise ValueError(f"data.vocab_size must be an integer or {AUTO_VOCAB}, got {vocab!r}")
    if (OmegaConf.select(cfg, "data.units", default="word") == "bpe"
            and OmegaConf.select(cfg, "data.test_alignment", default=None) is not None):
        raise ValueError("data.test_alignment needs data.units=word: the gold alignments link "
                         "words, and with bpe attention links pieces")


def _check_model(cfg: Any) -> None:
    """Sec. 3.2: the alignment model reads the annotations of a bidirectional encoder."""
    model = OmegaConf.select(cfg, "model")
    if model is not None and model.attention and not model.bidirectional:
        raise ValueError("model.attention=true needs model.bidirectional=true (Sec. 3.2)")


def _check_training(cfg: Any) -> None:
    """Rules only a training run needs: an update budget for the cosine decay (given, or sized
    to `trainer.max_time`), dev BLEU at every validation for a patience counted on it, and no
    DDP in a sweep of Hydra's basic launcher."""
    t = cfg.trainer
    estimates = update_budget(cfg) <= 0 and t.budget_window > 0  # training/budget.py
    if estimates and not t.max_time:
        raise ValueError(
            f"trainer.budget_window={t.budget_window} sizes the update budget to "
            "trainer.max_time, which is not set; set trainer.max_time or trainer.max_steps")
    if estimates and t.budget_warmup >= t.budget_window:
        raise ValueError(
            f"trainer.budget_warmup={t.budget_warmup} leaves no update of "
            f"trainer.budget_window={t.budget_window} to time; set it below the window")
    if cfg.optim.lr_decay == "cosine" and update_budget(cfg) <= 0 and not estimates:
        raise ValueError(
            f"optim.lr_decay=cosine needs an update budget: trainer.max_steps="
            f"{t.max_steps} and no trainer.max_steps_by_experiment."
            f"{cfg.experiment_name}; set one > 0, or trainer.budget_window > 0 with "
            "trainer.max_time, or use optim.lr_decay=none")
    if (t.early_stopping_patience and t.early_stopping_metric == "dev_bleu"
            and t.bleu_every_n_evals != 1):
        raise ValueError(
            f"trainer.early_stopping_metric=dev_bleu counts validations, but "
            f"trainer.bleu_every_n_evals={t.bleu_every_n_evals} computes dev BLEU on only "
            "some of them; set trainer.bleu_every_n_evals=1")
    if HydraConfig.initialized():  # inside a Hydra task function
        hc = HydraConfig.get()
        check_multirun_devices(int(cfg.trainer.devices), hc.mode == RunMode.MULTIRUN,
                               str(hc.launcher.get("_target_", "")))


def check_config(cfg: Any, trains: bool = False) -> None:
    """Check a composed config before anything runs; the first broken rule raises one line.

    Args:
        cfg: the composed config (another primary config may lack some keys: they are skipped).
        trains: the entry point trains a model (rnnsearch.train, rnnsearch.experiment), so
            the training rules apply too.

    Raises:
        ValueError: a value out of range, a `resume` or `data.vocab_size` of the wrong kind,
            attention without a bidirectional encoder, or (training) a cosine decay without an
            update budget, or DDP in a basic-launcher multirun.
    """
    check_ranges(cfg)
    _check_value_kinds(cfg)
    _check_model(cfg)
    if trains:
        _check_training(cfg)
