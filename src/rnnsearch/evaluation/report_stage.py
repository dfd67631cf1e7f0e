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

from rnnsearch.data.parallel_files import read_lines
from rnnsearch.data.subwords import BPE, SubwordModel, model_name
from rnnsearch.evaluation import explorer, paper_tables
from rnnsearch.evaluation.alignment import plot_examples
from rnnsearch.evaluation.bleu import TOKENIZED, paired_bootstrap
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
    for exp in [e for e in paper_tables.EXPERIMENTS if e in found] + \
            [e for e in found if e not in paper_tables.EXPERIMENTS]:
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


def write_explorer(cfg: DictConfig, exps: list[str], path: Path) -> Path:
    """reports/alignments.html over the RNNsearch models of `exps` (and their W&B panels)."""
    dirs = {e: translation_dir(cfg, e) for e in exps}
    trans = {e: d for e, d in dirs.items() if explorer.has_attention(d)}
    text = explorer.read_test_text(Path(cfg.data.prepared_dir), cfg.data.src_lang,
                                   cfg.data.tgt_lang) if trans else explorer.SplitText([], [], [])
    names, buckets = explorer.bucket_labels([len(s.split()) for s in text.src_tok],
                                            list(cfg.eval.length_buckets),
                                            cfg.eval.min_bucket_sentences)
    if trans and cfg.data.get("units", "word") == BPE:  # the page shows the pieces alpha is over
        text = explorer.with_source_pieces(text, SubwordModel(
            Path(cfg.data.prepared_dir) / model_name(cfg.data.src_lang)))
    test = explorer.sentence_entries(text, buckets)
    models = {e: explorer.model_entry(paper_tables.label(e), d, text) for e, d in trans.items()}
    page = explorer.page_data(test, list(models.values()), names)
    atomic_write_text(path, explorer.render_page(page))
    log.info("wrote %s (%d models)", path, len(models))
    if cfg.logger.kind == "wandb":
        log_explorer_to_wandb(cfg, models, page)
    return path


def log_explorer_to_wandb(cfg: DictConfig, models: dict[str, dict], data: dict) -> None:
    """Each model's explorer page (that model only) as an Html panel of its W&B run."""
    from rnnsearch.wandb_runs import log_html  # only W&B runs import wandb

    for exp, entry in models.items():
        page = explorer.render_page({**data, "models": [entry]}, f"{entry['name']} alignments")
        model_dir = Path(OmegaConf.merge(cfg, {"experiment_name": exp}).paths.model_dir)
        log_html(cfg.logger, exp, model_dir, "test/alignment_explorer", page)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write reports/results.md, its figures, the combined Figure 2 CSV and significance.json."""
    reports = Path(cfg.paths.reports_dir)
    metrics, curves = collect(reports)
    if not metrics:
        raise FileNotFoundError(f"no {reports}/metrics/*.json: run `python -m rnnsearch.evaluate "
                                "experiment=<id>` (or `dvc repro`) first")
    rows = [{"experiment": e, **r} for e, rs in curves.items() for r in rs]
    atomic_write_text(reports / "plots" / "bleu_by_length.csv", rows_csv(rows))
    fig2 = paper_tables.plot_bleu_by_length(curves, reports / "figures" / "bleu_by_length.png")
    fig3 = plot_examples([(paper_tables.label(e), translation_dir(cfg, e) / "attention.npz")
                          for e in FIG3_SOURCES], reports / "figures")
    sig = significance(cfg, list(metrics))
    write_explorer(cfg, list(metrics), reports / "alignments.html")
    atomic_write_json(reports / "significance.json", {"paired_bootstrap": sig})
    stats_path = Path(cfg.data.prepared_dir) / "stats.json"
    stats = json.loads(stats_path.read_text("utf-8")) if stats_path.is_file() else {}
    text = paper_tables.render(cfg, metrics, curves, stats, sig, fig2, fig3, reports)
    atomic_write_text(reports / "results.md", text)
    log.info("wrote %s", reports / "results.md")
    figures = [str(p) for p in [fig2, *(f for f, _ in fig3)]]
    return {"experiments": list(metrics), "figures": figures, "significance": sig}
