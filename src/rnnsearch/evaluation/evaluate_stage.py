"""DVC stage `evaluate@<exp>`: score an experiment's test translations (Table 1, Figure 2).

Paper: Table 1 (BLEU on all test sentences and on those with no [UNK] in source or reference)
and Figure 2 (BLEU against source sentence length). The No-UNK column is scored from translate's
[UNK]-free decode of that subset (Table 1's "(o)") when translate.json names its files
(decode.ignore_unk), otherwise from the All-column hypotheses. Writes
`reports/metrics/<exp>.json` (DVC metrics: `METRIC_KEYS` only, so `dvc metrics show` stays
readable), `reports/details/<exp>.json` (signatures, sentence counts, decode settings, learning
statistics: plain JSON), `reports/runs/<exp>.json` (timings, checkpoint path and hash, devices)
and `reports/plots/<exp>/bleu_by_length.csv`; with `logger=wandb` it logs the test scores, the
BLEU-by-length table and Figures 2 and 3 into the model's training W&B run (rnnsearch.wandb_runs).
Not responsible for decoding (translate.py) or for cross-experiment tables (report.py).
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rnnsearch.data.guards import check_checkpoint_data
from rnnsearch.data.parallel_files import DataError, load_split, read_lines
from rnnsearch.data.vocab import UNK_ID
from rnnsearch.evaluation.alignment import alignment_error_rate, parse_pharaoh
from rnnsearch.evaluation.bleu import TOKENIZED, bleu_by_length, no_unk_indices, table1_bleu
from rnnsearch.io_utils import atomic_write_json, atomic_write_text, rows_csv

log = logging.getLogger(__name__)


def _read_same_length(paths: dict[str, Path], n: int) -> dict[str, list[str]]:
    """Read line files that must all hold n lines (one per test sentence)."""
    out = {}
    for key, path in paths.items():
        lines = read_lines(path)
        if len(lines) != n:
            raise DataError(f"{path} has {len(lines)} lines but the test set has {n} sentences")
        out[key] = lines
    return out


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def no_unk_column_text(
    text: dict[str, list[str]], keep: list[int], trans: Path, info: dict[str, Any]
) -> dict[str, list[str]] | None:
    """`text` with the No-UNK subset's hypotheses replaced by the [UNK]-free decode.

    None when translate made no such decode (translate.json names no `no_unk_files`).
    """
    files = info.get("no_unk_files")
    if not info.get("ignore_unk") or not files:
        return None
    sub = {}
    for key, ext in (("hyp_tok", "tok"), ("hyp_detok", "detok")):
        path = trans / files[ext]
        lines = read_lines(path)
        if len(lines) != len(keep):
            raise DataError(f"{path} has {len(lines)} lines but the test set has {len(keep)} "
                            "No-UNK sentences; re-run `python -m rnnsearch.translate`")
        merged = list(text[key])
        for i, line in zip(keep, lines, strict=True):
            merged[i] = line
        sub[key] = merged
    return {**text, **sub}


# Per-run facts kept out of the DVC metrics (so `dvc metrics diff` of two identical runs is
# empty): section -> keys moved to reports/runs/<exp>.json (timings, paths, hashes, devices).
RUN_INFO_KEYS = {"checkpoint": ("path", "sha256", "prepared_data"), "decode": ("seconds", "device"),
                 "training": ("hours", "device")}


def unk_share(hyp_tok: Sequence[str], unk_token: str) -> float:
    """Share of the output tokens (whitespace-split tokenized hypotheses) that are `unk_token`.

    Ours, not in the paper: how much of what a model prints is [UNK] rather than words.
    0 for an output without tokens.
    """
    tokens = [tok for line in hyp_tok for tok in line.split()]
    return sum(tok == unk_token for tok in tokens) / len(tokens) if tokens else 0.0


def attention_aer(cfg: DictConfig, links_path: Path, n: int) -> dict[str, Any] | None:
    """AER of RNNsearch's argmax links (translate.py) against the corpus's gold test alignments.

    None when the model has no attention or the corpus no gold alignments (`data.test_alignment`).
    """
    if cfg.data.test_alignment is None or not links_path.is_file():
        return None
    gold_path = Path(cfg.data.raw_dir) / cfg.data.test_alignment
    opener = gzip.open if gold_path.suffix == ".gz" else open
    with opener(gold_path, "rt", encoding="utf-8") as fh:
        gold = [parse_pharaoh(line) for line in fh]
    predicted = [parse_pharaoh(line) for line in read_lines(links_path)]
    if not len(gold) == len(predicted) == n:
        raise DataError(f"{gold_path}: {len(gold)} gold alignments, {len(predicted)} predicted "
                        f"in {links_path}, {n} test sentences; they must match line by line")
    return {"aer": round(alignment_error_rate(predicted, gold), 4), "links": "argmax_j alpha_ij"}


# The DVC metrics (section -> keys; a bare section name: a top-level value): Table 1's BLEU
# (tokenized and detokenized, All and No UNK), the dev perplexity of the tested checkpoint and
# the AER of RNNsearch's attention. Everything else goes to reports/details/<exp>.json.
METRIC_KEYS: dict[str, tuple[str, ...] | None] = {
    "bleu": ("all", "no_unk"), "bleu_detok": ("all", "no_unk"), "dev_ppl": None,
    "alignment": ("aer",),
}


def split_details(metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the `METRIC_KEYS` part of `metrics`, the rest); report.py merges them back."""
    kept, details = {}, {}
    for key, value in metrics.items():
        if key not in METRIC_KEYS:
            details[key] = value
        elif (fields := METRIC_KEYS[key]) is None or not isinstance(value, dict):
            kept[key] = value
        else:
            kept[key] = {k: v for k, v in value.items() if k in fields}
            if rest := {k: v for k, v in value.items() if k not in fields}:
                details[key] = rest
    return kept, details


def split_run_info(metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics without the `RUN_INFO_KEYS`, those keys by section); report.py merges them."""
    kept = {k: dict(v) if k in RUN_INFO_KEYS else v for k, v in metrics.items()}
    info = {sec: {k: kept[sec].pop(k) for k in keys if k in kept[sec]}
            for sec, keys in RUN_INFO_KEYS.items() if sec in kept}
    return kept, info


def learning_stats(summary: dict[str, Any]) -> dict[str, Any]:
    """The appendix table's columns from train.py's summary.json (NaN -> null: valid JSON)."""
    keys = ("updates", "epochs", "hours", "device", "train_nll_sentence", "dev_nll_sentence",
            "train_nll_token", "dev_nll_token", "dev_ppl", "dev_ppl_last", "stop_reason")
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in summary.items() if k in keys}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Score test.hyp.{tok,detok}; write the three JSON files; return all they hold, merged."""
    prepared, trans = Path(cfg.data.prepared_dir), Path(cfg.paths.translation_dir)
    src, tgt, ev = cfg.data.src_lang, cfg.data.tgt_lang, cfg.eval
    test = load_split(prepared, "test")
    info = _read_json(trans / "translate.json")
    ckpt = info.get("checkpoint", {})  # translated with weights trained on this prepared data?
    check_checkpoint_data(ckpt.get("prepared_data"), prepared, ckpt.get("path", trans))
    text = _read_same_length({
        "hyp_tok": trans / "test.hyp.tok", "hyp_detok": trans / "test.hyp.detok",
        "ref_tok": prepared / f"test.{tgt}.tok", "ref_raw": prepared / f"test.{tgt}.raw",
        "src_tok": prepared / f"test.{src}.tok",
    }, len(test))
    keep = no_unk_indices(test.src, test.tgt, UNK_ID)
    bleu, signatures = table1_bleu(text, keep, ev.tokenized_bleu, ev.detok_bleu)
    no_unk_text = no_unk_column_text(text, keep, trans, info)
    if no_unk_text is not None:  # the No-UNK column from the [UNK]-free decode
        no_unk_bleu, _ = table1_bleu(no_unk_text, keep, ev.tokenized_bleu, ev.detok_bleu)
        for key, scores in no_unk_bleu.items():
            bleu[key]["no_unk"] = scores["no_unk"]
    alignment = attention_aer(cfg, trans / "test.ref.align", len(test))
    src_lengths = [len(line.split()) for line in text["src_tok"]]
    buckets = bleu_by_length(text["hyp_tok"], text["ref_tok"], src_lengths,
                             list(ev.length_buckets), TOKENIZED, ev.bootstrap_samples,
                             ev.bootstrap_seed, ev.min_bucket_sentences)
    metrics = {
        **bleu, "sacrebleu_signature": signatures,
        "n_sentences": {"all": len(test), "no_unk": len(keep)},
        "distinct_outputs": round(len(set(text["hyp_tok"])) / max(len(test), 1), 4),
        "unk_share": round(unk_share(text["hyp_tok"], ev.unk_token), 4),
        **({"alignment": alignment} if alignment else {}),
        "checkpoint": info.get("checkpoint", {}),
        "decode": {**info.get("decode", {}), "seconds": info.get("seconds"),
                   "device": info.get("device")},  # the settings translate recorded
        "training": learning_stats(_read_json(Path(cfg.paths.model_dir) / "summary.json")),
    }
    dev_ppl = {"best": metrics["training"].pop("dev_ppl", None),  # of the tested checkpoint
               "last": metrics["training"].pop("dev_ppl_last", None)}
    metrics["dev_ppl"] = dev_ppl[metrics["checkpoint"].get("choice", "best")]
    reports = Path(cfg.paths.reports_dir)
    kept, run_info = split_run_info(metrics)  # reports/runs: what a rerun does not reproduce
    kept, details = split_details(kept)  # DVC metrics: Table 1's BLEU, dev ppl, AER
    atomic_write_json(reports / "metrics" / f"{cfg.experiment_name}.json", kept)
    atomic_write_json(reports / "details" / f"{cfg.experiment_name}.json", details)
    atomic_write_json(reports / "runs" / f"{cfg.experiment_name}.json", run_info)
    rows = [{"bucket": b.bucket, "length": (b.lo + b.hi) / 2, "bleu": round(b.bleu, 2),
             "ci_low": round(b.ci_low, 2), "ci_high": round(b.ci_high, 2), "n": b.n}
            for b in buckets]  # `length` = the bucket's middle, Figure 2's x
    atomic_write_text(reports / "plots" / cfg.experiment_name / "bleu_by_length.csv",
                      rows_csv(rows))
    log.info("%s: BLEU %s", cfg.experiment_name, bleu)
    if cfg.logger.kind == "wandb":
        log_to_wandb(cfg, metrics, rows, trans / "attention.npz")
    return metrics


def log_to_wandb(cfg: DictConfig, metrics: dict[str, Any], rows: list[dict[str, Any]],
                 attention: Path) -> None:
    """Scores, Figure 2 (this model's curve) and Figure 3 into the training's W&B run."""
    from rnnsearch.evaluation.alignment import plot_examples
    from rnnsearch.evaluation.paper_tables import label, plot_bleu_by_length
    from rnnsearch.wandb_runs import log_test_results  # only W&B runs import wandb

    exp = cfg.experiment_name
    with tempfile.TemporaryDirectory() as tmp:
        fig2 = plot_bleu_by_length({exp: rows}, Path(tmp) / "figure2_bleu_by_length.png")
        fig3 = [p for p, _ in plot_examples([(label(exp), attention)], Path(tmp))]
        log_test_results(cfg.logger, exp, Path(cfg.paths.model_dir), metrics, rows, fig2, fig3)
