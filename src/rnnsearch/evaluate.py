"""DVC stage `evaluate@<exp>`: score an experiment's test translations (Table 1, Figure 2).

Paper: Table 1 (BLEU on all test sentences and on those with no [UNK] in source or reference)
and Figure 2 (BLEU against source sentence length). Writes `reports/metrics/<exp>.json` (DVC
metrics, with the training summary beside the scores) and `reports/plots/<exp>/bleu_by_length.csv`.
Not responsible for decoding (translate.py) or for cross-experiment tables (report.py).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from rnnsearch.config import register_configs
from rnnsearch.corpus import DataError, load_split, read_lines
from rnnsearch.io_utils import atomic_write_json, atomic_write_text
from rnnsearch.metrics import TOKENIZED, bleu_by_length, no_unk_indices, table1_bleu
from rnnsearch.vocab import UNK_ID

log = logging.getLogger(__name__)
register_configs()


def rows_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text of dict rows (columns from the first row)."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


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


def learning_stats(summary: dict[str, Any]) -> dict[str, Any]:
    """The appendix table's columns from train.py's summary.json (NaN -> null: valid JSON)."""
    keys = ("updates", "epochs", "hours", "device", "train_nll", "dev_nll", "dev_ppl")
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in summary.items() if k in keys}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Score test.hyp.{tok,detok}; write and return the metrics dict."""
    prepared, trans = Path(cfg.data.prepared_dir), Path(cfg.paths.translation_dir)
    src, tgt, ev = cfg.data.src_lang, cfg.data.tgt_lang, cfg.eval
    test = load_split(prepared, "test")
    text = _read_same_length({
        "hyp_tok": trans / "test.hyp.tok", "hyp_detok": trans / "test.hyp.detok",
        "ref_tok": prepared / f"test.{tgt}.tok", "ref_raw": prepared / f"test.{tgt}.raw",
        "src_tok": prepared / f"test.{src}.tok",
    }, len(test))
    keep = no_unk_indices(test.src, test.tgt, UNK_ID)
    bleu, signatures = table1_bleu(text, keep, ev.tokenized_bleu, ev.detok_bleu)
    src_lengths = [len(line.split()) for line in text["src_tok"]]
    buckets = bleu_by_length(text["hyp_tok"], text["ref_tok"], src_lengths,
                             list(ev.length_buckets), TOKENIZED, ev.bootstrap_samples,
                             ev.bootstrap_seed)
    info = _read_json(trans / "translate.json")
    metrics = {
        **bleu, "sacrebleu_signature": signatures,
        "n_sentences": {"all": len(test), "no_unk": len(keep)},
        "checkpoint": info.get("checkpoint", {}),
        "decode": {k: info.get(k) for k in ("beam_size", "seconds", "device")},
        "training": learning_stats(_read_json(Path(cfg.paths.model_dir) / "summary.json")),
    }
    reports = Path(cfg.paths.reports_dir)
    atomic_write_json(reports / "metrics" / f"{cfg.experiment_name}.json", metrics)
    rows = [{"bucket": b.bucket, "length": (b.lo + b.hi) / 2, "bleu": round(b.bleu, 2),
             "ci_low": round(b.ci_low, 2), "ci_high": round(b.ci_high, 2), "n": b.n}
            for b in buckets]  # `length` = the bucket's middle, Figure 2's x
    atomic_write_text(reports / "plots" / cfg.experiment_name / "bleu_by_length.csv",
                      rows_csv(rows))
    log.info("%s: BLEU %s", cfg.experiment_name, bleu)
    return metrics


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """`python -m rnnsearch.evaluate experiment=<id>`."""
    run(cfg)


if __name__ == "__main__":
    main()
