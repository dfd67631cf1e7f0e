"""Typed schemas for every `conf/` group, registered in Hydra's ConfigStore.

Each group's YAML files are validated against the dataclass named here, so an unknown key or a
value of the wrong type fails when the config is composed, not hours into a run.
Paper values live in the YAML files (with their section cited), not here: the defaults below are
only what a schema needs to be complete. A key with a fixed set of values is typed by an `Enum`
below, so a typo fails at compose time with the allowed values; the composed config's numeric
ranges and cross-key rules are checked next, before a stage reads or moves anything
(`config_checks.check_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hydra.core.config_store import ConfigStore

# Choice keys: each member's value is its name (StrEnum's auto()). A member is a str, so it
# equals, hashes, formats and JSON-encodes as that string and code comparing with strings is
# unchanged; OmegaConf reads an override by member name and writes the name back (config.yaml,
# to_container(enum_to_str=True)), so a config saves exactly the strings it did as plain `str`.
BatchOrder = StrEnum("BatchOrder", ["groundhog", "shuffled"])  # data.batch_order
InvalidUtf8 = StrEnum("InvalidUtf8", ["error", "replace"])  # data.invalid_utf8
VocabCount = StrEnum("VocabCount", ["all_lines", "kept_pairs"])  # data.vocab_count
Units = StrEnum("Units", ["word", "bpe"])  # data.units (bpe: sentencepiece, data/subwords.py)
EncoderCell = StrEnum("EncoderCell", ["paper", "cudnn"])  # model.encoder_cell
ReadoutState = StrEnum("ReadoutState", ["groundhog", "current", "previous"])  # model.readout_state
EncdecContext = StrEnum("EncdecContext", ["last_state", "tanh_layer"])  # model.encdec_context
Nonfinite = StrEnum("Nonfinite", ["stop", "shrink"])  # optim.nonfinite
LossScale = StrEnum("LossScale", ["sum", "sentence", "token"])  # optim.loss_scale
LrDecay = StrEnum("LrDecay", ["none", "cosine"])  # optim.lr_decay (cosine: config_checks)
# trainer.early_stopping_metric: dev NLL per token (val/loss) or greedy dev BLEU (val/bleu_greedy)
EarlyStoppingMetric = StrEnum("EarlyStoppingMetric", ["dev_loss", "dev_bleu"])
LengthRule = StrEnum("LengthRule", ["groundhog", "ratio"])  # decode.length_rule
Fallback = StrEnum("Fallback", ["none", "groundhog"])  # decode.fallback
LoggerKind = StrEnum("LoggerKind", ["wandb", "csv", "none"])  # logger.kind


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
    """One file to download: its URL and pinned SHA-256 (null: not pinned), and the MD5 and
    byte size its publishers give (checked where known; an unpinned sha256 is recorded by the
    first run and checked by later ones, corpora/wmt14/download.py)."""

    url: str = ""
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    mirrors: list[str] = field(default_factory=list)  # tried in order after `url` fails


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
    allow_unpinned: bool = False  # accept an archive with no sha256, md5 or size at all
    local_dir: str | None = None  # an already downloaded copy of the archives (same file names)
    selection: bool = True  # false: the train entries are the training data (LIUM: selected)
    selection_budget_tokens_fr: int = 348_000_000  # Sec. 4.1; French tokens (Moses) selected
    general_lm_max_pairs: int = 2_000_000  # strided sample of the pool for the general LM


@dataclass
class PaperCountsConfig:
    """What the paper reports of its corpus; prepare warns (one line) when stats.json differs."""

    train_tokens: dict[str, int] = field(default_factory=dict)  # language -> tokens; {}: no check
    test_lines: int | None = None  # test sentences; null: no check
    tolerance: float = 0.05  # ours: relative difference of a token total that warns


@dataclass
class DataConfig:
    """Corpus choice, preprocessing and batching."""

    name: str = "embedded"  # embedded | wmt14_lium | wmt14_en_fr | parallel_text (any aligned pair)
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
    pretokenized: bool = False  # raw files already Moses-tokenized (LIUM): no tokenisation
    vocab_count: VocabCount = VocabCount.kept_pairs  # shortlist counted over all lines | kept pairs
    units: Units = Units.word  # word (Sec. 4.1: shortlists + [UNK]) | bpe (ours: subwords)
    subword_vocab_size: int = 8000  # bpe: sentencepiece pieces per language
    pieces_per_word: float = 1.0  # bpe: a pair may have round(max_len * this) pieces per side
    invalid_utf8: InvalidUtf8 = InvalidUtf8.error  # in training text: error | replace (U+FFFD)
    stats_report: str | None = "${paths.reports_dir}/prepared_stats.json"  # ours: git-readable copy
    batch_size: int = 80
    sort_batches: int = 20
    batch_order: BatchOrder = BatchOrder.groundhog  # App. B.2 / GroundHog; shuffled: ours
    num_workers: int = 0
    pin_memory: bool = True
    dev_bleu_sentences: int = 200
    dev_max_len: int = 250  # longest dev sentence teacher-forced (guards.check_dev_lengths)
    test_alignment: str | None = None  # gold test alignments in raw_dir (Pharaoh): AER; null: none
    paper_counts: PaperCountsConfig = field(default_factory=PaperCountsConfig)
    embedded: EmbeddedCorpusConfig = field(default_factory=EmbeddedCorpusConfig)
    wmt14: Wmt14Config = field(default_factory=Wmt14Config)


# What a data key means for a training checkpoint (resume.training_fingerprint), one group each
# (tests/config: every DataConfig field in exactly one):
# training: which prepared pairs are trained on, in which minibatches, scored on which dev subset;
# a change sets last.ckpt aside.
DATA_TRAINING_KEYS = frozenset({"max_len", "pieces_per_word", "batch_size", "sort_batches",
                                "batch_order", "dev_bleu_sentences"})
# prepared: act only through the prepared data, which the fingerprint hashes by content
# (`prepared_data`), or only in later stages (test_alignment: evaluate).
DATA_PREPARED_KEYS = frozenset({
    "name", "src_lang", "tgt_lang", "raw_dir", "vocab_size", "vocab_coverage", "vocab_max",
    "prepare_max_len", "pretokenized", "vocab_count", "invalid_utf8", "test_alignment",
    "units", "subword_vocab_size",
    "embedded", "wmt14"})
# runtime: locations, speed and input guards; free to change on resume (a moved checkout resumes).
DATA_RUNTIME_KEYS = frozenset({"prepared_dir", "prepare_workers", "stats_report", "num_workers",
                               "pin_memory", "dev_max_len", "paper_counts"})

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
    # "paper" (reset before U) | "cudnn" (torch.nn.GRU, reset after U)
    encoder_cell: EncoderCell = EncoderCell.paper
    # "groundhog": g(s_{i-1}, E y_{i-1}, c_i), s_i consumes y_i (GroundHog) | "current": s_i
    # (Eq. 4) | "previous": s_{i-1} (App. A.2.2), both with s_i = f(s_{i-1}, E y_{i-1}, c_i)
    readout_state: ReadoutState = ReadoutState.groundhog
    # RNNencdec only: "last_state": c = h->_Tx (App. A.2.2, GroundHog) | "tanh_layer": tanh(V h_Tx)
    encdec_context: EncdecContext = EncdecContext.last_state
    # GroundHog's layer definitions (scale=paper): W_o through 620 units (null: one V x l
    # matrix); no bias on the reset/update gates; no bias in the alignment model
    output_rank: int | None = None
    gate_bias: bool = True
    attention_bias: bool = True
    fused_forward: bool = True  # teacher forcing: input/readout projections batched over T
    fused_encoder: bool = True  # paper cell: both directions in one batched loop (equal results)
    compile: bool = False  # torch.compile the per-step decoder recurrence and encoder update
    scan_backward: bool = False  # recurrences as single autograd nodes, hand-written backward
    logistic_attention: bool = False  # v^T tanh(a) as 2 v^T sigmoid(2a) (softmax drops the shift)
    grouped_beam_source: bool = False  # beam search: one source copy per sentence, not K
    fused_output_loss: bool = False  # softmax layer + NLL over row chunks, no (B, T, V) tensor
    output_loss_chunk: int = 1024  # rows (target positions) per chunk of fused_output_loss
    init_std: float = 0.01
    attn_init_std: float = 0.001
    orthogonal_recurrent: bool = True


# What a model key means for a trained artefact: every `ModelConfig` field is exactly one of
# these (tests/config/test_config_schema.py). Checkpoint loading (evaluation/checkpoint.py) and
# resume (training/resume.py) both read them.
# identity: what is computed; a checkpoint is a different model under another value.
MODEL_IDENTITY_KEYS = frozenset({
    "name", "attention", "bidirectional", "emb_dim", "hidden_dim", "attn_dim", "maxout_dim",
    "maxout_pool", "encoder_cell", "readout_state", "encdec_context", "output_rank", "gate_bias",
    "attention_bias"})
# initialisation: how the weights start; loaded weights replace it, so loading ignores a
# difference, but resume does not (the run was started from this initialisation).
MODEL_INIT_KEYS = frozenset({"init_std", "attn_init_std", "orthogonal_recurrent"})
# execution: how the same function is computed (each proven equal to its reference path by
# tests/models); taken from the config when a checkpoint is loaded, and free to change on resume.
MODEL_EXECUTION_KEYS = frozenset({
    "fused_forward", "fused_encoder", "compile", "scan_backward", "logistic_attention",
    "grouped_beam_source", "fused_output_loss", "output_loss_chunk"})


@dataclass
class AdadeltaConfig:
    """`torch.optim.Adadelta` arguments (conf/optim/optimizer/adadelta.yaml), `_partial_`."""

    _target_: str = "torch.optim.Adadelta"
    _partial_: bool = True
    lr: float = 1.0
    rho: float = 0.95
    eps: float = 1e-6
    weight_decay: float = 0.0


@dataclass
class AdamConfig:
    """`torch.optim.Adam` arguments (conf/optim/optimizer/adam.yaml), `_partial_`."""

    _target_: str = "torch.optim.Adam"
    _partial_: bool = True
    lr: float = 1e-3
    eps: float = 1e-8
    weight_decay: float = 0.0


@dataclass
class OptimConfig:
    """The optimizer (`optimizer`, built with hydra.utils.instantiate) and what the trainer, the
    loss and the schedule take: gradient clipping, loss scale, learning-rate decay."""

    optimizer: Any = None  # an AdadeltaConfig or AdamConfig, from the optim/optimizer group
    grad_clip_norm: float = 1.0
    nonfinite: Nonfinite = Nonfinite.stop  # non-finite gradient: stop (ours) | shrink (GroundHog)
    loss_scale: LossScale = LossScale.sum  # the minibatch NLL's divisor: 1, B or tokens
    lr_decay: LrDecay = LrDecay.none  # none (paper: no schedule) | cosine (ours, per update)
    lr_min_ratio: float = 0.05  # cosine: the rate at the last update, as a fraction of lr


@dataclass
class TrainerConfig:
    """Arguments for `lightning.Trainer` plus the few run controls Lightning does not own."""

    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    tf32: bool = False  # TF32 matmuls/convolutions on Ampere+ GPUs (ours: speed; paper: fp32)
    max_steps: int = -1
    max_steps_by_experiment: dict[str, int] = field(default_factory=dict)  # wins over max_steps
    max_epochs: int | None = None
    max_time: str | None = None
    # max_steps -1 with budget_window > 0: the update count is estimated from max_time and the
    # speed of the first budget_window updates, then fixed (training/budget.py)
    budget_window: int = 0
    budget_margin: float = 1.0  # fraction of max_time the estimated count is sized to fill
    budget_warmup: int = 0  # the window's first updates, left out of its measured speed
    val_check_interval: Any = 1.0
    check_val_every_n_epoch: int | None = 1
    limit_train_batches: Any = 1.0
    limit_val_batches: Any = 1.0
    log_every_n_steps: int = 50
    num_sanity_val_steps: int = 2
    deterministic: bool = False
    enable_progress_bar: bool = True
    early_stopping_patience: int | None = None  # validations without a better metric (below)
    early_stopping_metric: EarlyStoppingMetric = EarlyStoppingMetric.dev_loss
    keep_last_checkpoints: int = 2  # periodic step checkpoints kept besides best/last
    checkpoint_every_n_steps: int = 500
    bleu_every_n_evals: int = 1  # greedy dev BLEU on every n-th validation (0: never)
    num_threads: int | None = None  # torch intra-op CPU threads; null: torch's default


@dataclass
class DecodeConfig:
    """Search settings for translation."""

    beam_size: int = 10
    # "groundhog": 3 (|x|+1) steps, EOS not before (|x|+1)//2
    length_rule: LengthRule = LengthRule.groundhog
    max_len_ratio: float = 2.0  # "ratio" rule: at most ratio * |x| + offset steps, EOS any time
    max_len_offset: int = 10
    length_normalize: bool = False
    ignore_unk: bool = True  # No-UNK column decoded with log p(UNK) = -inf (Table 1)
    batch_size: int = 32
    n_alignment_examples: int = 4
    fallback: Fallback = Fallback.none  # groundhog: retry a sentence where nothing emitted EOS
    fallback_max_beam: int = 500  # GroundHog sample.py doubles the beam while it is under 500
    n_best: int = 1  # translate input=...: hypotheses written per sentence
    replace_unk: bool = False  # translate input=...: [UNK] -> most attended source word (ours)
    max_input_tokens: int = 400  # longer input lines are refused, naming the line


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
    checkpoint: str = "best"  # Table 1's weights: best (lowest dev NLL) | last (end of training)
    checkpoint_by_experiment: dict[str, str] = field(default_factory=dict)  # wins over checkpoint


@dataclass
class LoggerConfig:
    """Experiment tracking: W&B (offline unless WANDB_MODE says otherwise), CSV, or none."""

    kind: LoggerKind = LoggerKind.wandb
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
    keep_freed_memory: bool = True  # ours (speed): malloc reuses freed host memory (host_memory.py)
    resume: Any = "auto"  # "auto" | true | false: bool or str, so checked in config_checks
    input: str | None = None  # translate: raw text file or "-" (stdin); None: the test split
    output: str | None = None  # translate input=...: file instead of stdout
    alignments: str | None = None  # translate input=...: JSON lines of alpha and links
    heatmaps: str | None = None  # translate input=...: directory of Figure 3 PNGs


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
    cs.store(group="optim/optimizer", name="adadelta_schema", node=AdadeltaConfig)
    cs.store(group="optim/optimizer", name="adam_schema", node=AdamConfig)
