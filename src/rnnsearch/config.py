"""Typed schemas for every `conf/` group, registered in Hydra's ConfigStore.

Each group's YAML files are validated against the dataclass named here, so an unknown key or a
value of the wrong type fails when the config is composed, not hours into a run.
Paper values live in the YAML files (with their section cited), not here: the defaults below are
only what a schema needs to be complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class EmbeddedCorpusConfig:
    """Deterministic synthetic English-like -> French-like corpus (no network); see generate.py."""

    seed: int = 1234
    n_train: int = 25000
    n_dev: int = 500
    n_test: int = 1400  # stratified: n_test / n_length_buckets sentences per source-length bucket
    lexicon_size: int = 300  # content lemmas per language; inflection gives ~2-4x as many types
    zipf_exponent: float = 1.6  # with the shift: ~3% (en) / ~4% (fr) [UNK] at a 1000 shortlist
    zipf_shift: float = 3.0  # Zipf-Mandelbrot q in p(r) ~ (r + q)^-s: flattens the head
    mean_sentence_len: float = 26.0  # train/dev source length ~ 1 + Gamma(2.5), capped below
    max_sentence_len: int = 70
    length_bucket_width: int = 10  # Fig. 2 buckets: 0-9, 10-19, ..., 60+
    n_length_buckets: int = 7


@dataclass
class Wmt14ArchiveConfig:
    """One file to download: its URL and pinned SHA-256 (null: not pinned, see wmt14.py)."""

    url: str = ""
    sha256: str | None = None


@dataclass
class Wmt14FilesConfig:
    """A parallel corpus inside an unpacked archive: its English and French member paths."""

    archive: str = ""
    en: str = ""
    fr: str = ""


@dataclass
class Wmt14Config:
    """Download, verification, selection and raw layout of the WMT'14 En->Fr recipe (Sec. 4.1)."""

    archives: dict[str, Wmt14ArchiveConfig] = field(default_factory=dict)
    train: dict[str, Wmt14FilesConfig] = field(default_factory=dict)
    dev: list[Wmt14FilesConfig] = field(default_factory=list)
    test: Wmt14FilesConfig = field(default_factory=Wmt14FilesConfig)
    download_dir: str = "${data.raw_dir}/downloads"
    allow_unpinned: bool = False
    selection_budget_words: int = 348_000_000  # Sec. 4.1; English-side words after selection
    general_lm_max_pairs: int = 2_000_000  # strided sample of the pool for the general LM


@dataclass
class DataConfig:
    """Corpus choice, preprocessing and batching."""

    name: str = "embedded"  # "embedded" | "wmt14_en_fr" | "parallel_text" (any line-aligned pair)
    src_lang: str = "en"
    tgt_lang: str = "fr"
    raw_dir: str = "${paths.data_dir}/${data.name}"
    prepared_dir: str = "${paths.artifacts_dir}/prepared/${data.name}"
    vocab_size: Any = 30000  # shortlist K per language (int), or "auto": see the next two
    vocab_coverage: float = 0.97  # auto (ours): smallest K covering this share of train tokens
    vocab_max: int = 30000  # auto: the largest K it may choose
    max_len: int = 50
    prepare_max_len: int = 50  # prepare keeps training pairs with 1..this many tokens per side
    prepare_workers: int = 2  # Moses tokenisation processes (large inputs only)
    stats_report: str | None = "${paths.reports_dir}/prepared_stats.json"  # ours: git-readable copy
    batch_size: int = 80
    sort_batches: int = 20
    batch_order: str = "groundhog"  # "groundhog" (App. B.2 / GroundHog) | "shuffled" (ours)
    num_workers: int = 0
    pin_memory: bool = True
    dev_bleu_sentences: int = 200
    test_alignment: str | None = None  # gold test alignments in raw_dir (Pharaoh): AER; null: none
    embedded: EmbeddedCorpusConfig = field(default_factory=EmbeddedCorpusConfig)
    wmt14: Wmt14Config = field(default_factory=Wmt14Config)


@dataclass
class ModelConfig:
    """Sizes and switches of RNNencdec / RNNsearch (App. A); built by `models.build_model`."""

    name: str = "rnnsearch"
    attention: bool = True
    bidirectional: bool = True
    emb_dim: int = 620
    hidden_dim: int = 1000
    attn_dim: int = 1000
    maxout_dim: int = 500
    maxout_pool: int = 2
    encoder_cell: str = "paper"  # "paper" (reset before U) | "cudnn" (torch.nn.GRU, reset after U)
    # "groundhog": g(s_{i-1}, E y_{i-1}, c_i), s_i consumes y_i (GroundHog) | "current": s_i
    # (Eq. 4) | "previous": s_{i-1} (App. A.2.2), both with s_i = f(s_{i-1}, E y_{i-1}, c_i)
    readout_state: str = "groundhog"
    # RNNencdec only: "last_state": c = h->_Tx (App. A.2.2, GroundHog) | "tanh_layer": tanh(V h_Tx)
    encdec_context: str = "last_state"
    fused_forward: bool = True  # teacher forcing: input/readout projections batched over T
    fused_encoder: bool = True  # paper cell: both directions in one batched loop (equal results)
    compile: bool = False  # torch.compile the per-step decoder recurrence and encoder update
    scan_backward: bool = False  # recurrences as single autograd nodes, hand-written backward
    logistic_attention: bool = False  # v^T tanh(a) as 2 v^T sigmoid(2a) (softmax drops the shift)
    grouped_beam_source: bool = False  # beam search: one source copy per sentence, not K
    init_std: float = 0.01
    attn_init_std: float = 0.001
    orthogonal_recurrent: bool = True


@dataclass
class OptimConfig:
    """Optimizer (built with hydra.utils.instantiate, `_partial_`) and gradient clipping."""

    _target_: str = "torch.optim.Adadelta"
    _partial_: bool = True
    lr: float = 1.0
    rho: float | None = 0.95  # Adadelta only; null for optimizers without it (not passed on)
    eps: float = 1e-6
    weight_decay: float = 0.0
    grad_clip_norm: float = 1.0
    loss_scale: str = "sum"  # sum | sentence | token: the minibatch NLL's divisor (lit_module)
    lr_decay: str = "none"  # none (paper: Adadelta has no schedule) | cosine (ours, per update)
    lr_min_ratio: float = 0.05  # cosine: the rate at the last update, as a fraction of lr


@dataclass
class TrainerConfig:
    """Arguments for `lightning.Trainer` plus the few run controls Lightning does not own."""

    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_steps: int = -1
    max_steps_by_experiment: dict[str, int] = field(default_factory=dict)  # wins over max_steps
    max_epochs: int | None = None
    max_time: str | None = None
    val_check_interval: Any = 1.0
    check_val_every_n_epoch: int | None = 1
    limit_train_batches: Any = 1.0
    limit_val_batches: Any = 1.0
    log_every_n_steps: int = 50
    num_sanity_val_steps: int = 2
    deterministic: bool = False
    enable_progress_bar: bool = True
    early_stopping_patience: int | None = None  # validations without a better val/loss
    keep_last_checkpoints: int = 2  # periodic step checkpoints kept besides best/last
    checkpoint_every_n_steps: int = 500
    bleu_every_n_evals: int = 1  # greedy dev BLEU on every n-th validation (0: never)
    num_threads: int | None = None  # torch intra-op CPU threads; null: torch's default


@dataclass
class DecodeConfig:
    """Search settings for translation."""

    beam_size: int = 10
    length_rule: str = "groundhog"  # "groundhog": 3 (|x|+1) steps, EOS not before (|x|+1)//2
    max_len_ratio: float = 2.0  # "ratio" rule: at most ratio * |x| + offset steps, EOS any time
    max_len_offset: int = 10
    length_normalize: bool = False
    ignore_unk: bool = True  # No-UNK column decoded with log p(UNK) = -inf (Table 1)
    batch_size: int = 32
    n_alignment_examples: int = 4


@dataclass
class EvalConfig:
    """BLEU flavours and significance tests."""

    tokenized_bleu: bool = True
    detok_bleu: bool = True
    length_buckets: list[int] = field(default_factory=lambda: [10, 20, 30, 40, 50, 60])
    min_bucket_sentences: int = 10  # smaller buckets merge (metrics.adapt_length_edges)
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 12345
    unk_token: str = "[UNK]"


@dataclass
class LoggerConfig:
    """Experiment tracking: W&B (offline unless WANDB_MODE says otherwise), CSV, or none."""

    kind: str = "wandb"  # "wandb" | "csv" | "none"
    project: str = "rnnsearch"
    entity: str | None = None
    group: str | None = None
    mode: str = "offline"
    save_dir: str = "${paths.artifacts_dir}/wandb"
    log_model: bool = False
    n_sample_translations: int = 5


@dataclass
class PathsConfig:
    """Every directory the project reads or writes, relative to the repository root."""

    root_dir: str = "."
    data_dir: str = "${paths.root_dir}/data"
    artifacts_dir: str = "${paths.root_dir}/artifacts"
    reports_dir: str = "${paths.root_dir}/reports"
    model_dir: str = "${paths.artifacts_dir}/models/${experiment_name}"
    translation_dir: str = "${paths.artifacts_dir}/translations/${experiment_name}"


@dataclass
class RootConfig:
    """The composed configuration."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    experiment_name: str = "rnnsearch_50"
    scale_name: str = "demo"
    seed: int = 1234
    resume: Any = "auto"  # "auto" | true | false; checked in callbacks.resume_checkpoint


def register_configs() -> None:
    """Register every schema so YAML files can name them in their defaults list."""
    cs = ConfigStore.instance()
    cs.store(name="root_schema", node=RootConfig)
    for group, node in [
        ("data", DataConfig),
        ("model", ModelConfig),
        ("optim", OptimConfig),
        ("trainer", TrainerConfig),
        ("decode", DecodeConfig),
        ("eval", EvalConfig),
        ("logger", LoggerConfig),
        ("paths", PathsConfig),
    ]:
        cs.store(group=group, name=f"{group}_schema", node=node)
