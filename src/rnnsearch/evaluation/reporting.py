"""DVC stage `report`: reports/results.md with Table 1, Figures 2 and 3, learning statistics and a
paired significance test, from the evaluated experiments.

Reads reports/{metrics,details,runs}/<exp>.json and
reports/plots/<exp>/bleu_by_length.csv (evaluate.py), the test translations and alignment
examples (translate.py) and the prepared references.
Not responsible for scoring single experiments (evaluate.py).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnsearch.data.corpus import read_lines
from rnnsearch.evaluation import results
from rnnsearch.evaluation.alignment import plot_examples
from rnnsearch.evaluation.metrics import TOKENIZED, paired_bootstrap
from rnnsearch.io_utils import atomic_write_json, atomic_write_text, rows_csv

log = logging.getLogger(__name__)

PAIRS = [("rnnencdec_30", "rnnsearch_30"), ("rnnencdec_50", "rnnsearch_50")]  # (base, system)
FIG3_SOURCES = ("rnnsearch_50", "rnnsearch_50star", "rnnsearch_30")  # Fig. 3 uses RNNsearch-50


def translation_dir(cfg: DictConfig, exp: str) -> Path:
    """cfg.paths.translation_dir as it resolves for experiment `exp`."""
    other = OmegaConf.merge(cfg, {"experiment_name": exp})
    return Path(other.paths.translation_dir)


def load_metrics(reports: Path, exp: str) -> dict[str, Any]:
    """Everything evaluate.py wrote for `exp`, merged: the DVC metrics (reports/metrics), the
    plain details (reports/details) and the run facts (reports/runs: timings, paths, hashes)."""
    merged: dict[str, Any] = {}
    for part in ("metrics", "details", "runs"):
        path = reports / part / f"{exp}.json"
        if not path.is_file():
            continue
        for key, value in json.loads(path.read_text("utf-8")).items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def collect(reports: Path) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    """Metrics and Figure 2 rows of every evaluated experiment, in the paper's order."""
    metrics, curves = {}, {}
    found = sorted(p.stem for p in (reports / "metrics").glob("*.json"))
    for exp in [e for e in results.EXPERIMENTS if e in found] + \
            [e for e in found if e not in results.EXPERIMENTS]:
        metrics[exp] = load_metrics(reports, exp)
        curve = reports / "plots" / exp / "bleu_by_length.csv"
        if curve.is_file():
            with open(curve, encoding="utf-8", newline="") as fh:
                curves[exp] = list(csv.DictReader(fh))
    return metrics, curves


def significance(cfg: DictConfig, exps: list[str]) -> list[dict[str, Any]]:
    """Paired bootstrap (tokenized BLEU) of RNNsearch against RNNencdec at equal length cap."""
    refs = read_lines(Path(cfg.data.prepared_dir) / f"test.{cfg.data.tgt_lang}.tok")
    out = []
    for base, system in PAIRS:
        hyp_paths = [translation_dir(cfg, e) / "test.hyp.tok" for e in (base, system)]
        if not (base in exps and system in exps and all(p.is_file() for p in hyp_paths)):
            continue
        res = paired_bootstrap((base, read_lines(hyp_paths[0])), (system, read_lines(hyp_paths[1])),
                               refs, TOKENIZED, cfg.eval.bootstrap_samples, cfg.eval.bootstrap_seed)
        out.append(res.__dict__)
    return out


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write reports/results.md, its figures, the combined Figure 2 CSV and significance.json."""
    reports = Path(cfg.paths.reports_dir)
    metrics, curves = collect(reports)
    if not metrics:
        raise FileNotFoundError(f"no {reports}/metrics/*.json: run `python -m rnnsearch.evaluate "
                                "experiment=<id>` (or `dvc repro`) first")
    rows = [{"experiment": e, **r} for e, rs in curves.items() for r in rs]
    atomic_write_text(reports / "plots" / "bleu_by_length.csv", rows_csv(rows))
    fig2 = results.plot_bleu_by_length(curves, reports / "figures" / "bleu_by_length.png")
    fig3 = plot_examples([(results.label(e), translation_dir(cfg, e) / "attention.npz")
                          for e in FIG3_SOURCES], reports / "figures")
    sig = significance(cfg, list(metrics))
    atomic_write_json(reports / "significance.json", {"paired_bootstrap": sig})
    stats_path = Path(cfg.data.prepared_dir) / "stats.json"
    stats = json.loads(stats_path.read_text("utf-8")) if stats_path.is_file() else {}
    text = results.render(cfg, metrics, curves, stats, sig, fig2, fig3, reports)
    atomic_write_text(reports / "results.md", text)
    log.info("wrote %s", reports / "results.md")
    figures = [str(p) for p in [fig2, *(f for f, _ in fig3)]]
    return {"experiments": list(metrics), "figures": figures, "significance": sig}
