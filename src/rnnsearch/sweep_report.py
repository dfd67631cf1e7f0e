"""`python -m rnnsearch.sweep_report <sweep dir>`: BLEU mean +- std across seeds, per experiment.

Reads each job's reports (rnnsearch.experiment in a multirun: `<sweep dir>/<job>/reports/metrics/
<exp>.json` and `plots/<exp>/bleu_by_length.csv`) and writes `<sweep dir>/sweep_report.md`
(Table 1's tokenized BLEU, All and No UNK, and BLEU per source-length bucket, each as mean +-
sample standard deviation over the seeds) and `<sweep dir>/bleu_by_length_seeds.png` (Figure 2
with a +-1 std band per experiment). Not responsible for running the jobs (experiment.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from rnnsearch.evaluation.paper_tables import (  # results sets matplotlib's file-only backend
    LengthLine,
    label,
    markdown_table,
    plot_length_lines,
)
from rnnsearch.io_utils import atomic_write_text

log = logging.getLogger(__name__)


def collect_runs(sweep_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """experiment -> one dict per job: `bleu`, `no_unk` and `buckets` [(bucket, length, bleu)]."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for metrics_file in sorted(sweep_dir.glob("*/reports/metrics/*.json")):
        exp, reports = metrics_file.stem, metrics_file.parents[1]
        m = json.loads(metrics_file.read_text("utf-8"))
        curve = reports / "plots" / exp / "bleu_by_length.csv"
        with open(curve, encoding="utf-8", newline="") as fh:
            buckets = [(r["bucket"], float(r["length"]), float(r["bleu"]))
                       for r in csv.DictReader(fh)]
        runs[exp].append({"job": metrics_file.parents[2].name, "bleu": m["bleu"]["all"],
                          "no_unk": m["bleu"]["no_unk"], "buckets": buckets})
    return dict(runs)


def mean_std(values: list[float | None]) -> tuple[float, float] | None:
    """(mean, sample std; 0 for one value) of the non-null values; None if there are none."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


def _cell(stat: tuple[float, float] | None) -> str:
    return "n/a" if stat is None else f"{stat[0]:.2f} ± {stat[1]:.2f}"


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """experiment -> {seeds, bleu, no_unk: (mean, std), buckets: [(bucket, length, mean, std)]}."""
    out = {}
    for exp, jobs in runs.items():
        names = [b[:2] for b in jobs[0]["buckets"]]
        if any([b[:2] for b in j["buckets"]] != names for j in jobs):
            raise ValueError(f"{exp}: the jobs' bleu_by_length.csv have different buckets; "
                             "summarise only jobs evaluated with the same eval.length_buckets")
        out[exp] = {
            "seeds": len(jobs), "bleu": mean_std([j["bleu"] for j in jobs]),
            "no_unk": mean_std([j["no_unk"] for j in jobs]),
            "buckets": [(name, length, *mean_std([j["buckets"][k][2] for j in jobs]))
                        for k, (name, length) in enumerate(names)],
        }
    return out


def table(summary: dict[str, dict[str, Any]]) -> str:
    """Markdown: experiment, seeds, BLEU All, BLEU No UNK, BLEU per bucket (mean ± std)."""
    buckets = [b[0] for b in next(iter(summary.values()))["buckets"]] if summary else []
    rows = [[label(exp), s["seeds"], _cell(s["bleu"]), _cell(s["no_unk"]),
             *(_cell(b[2:]) for b in s["buckets"])] for exp, s in summary.items()]
    return markdown_table(["Model", "Seeds", "BLEU All", "BLEU No UNK",
                           *(f"BLEU {b}" for b in buckets)], rows)


def plot(summary: dict[str, dict[str, Any]], path: Path) -> Path:
    """Figure 2 with seed bands: mean BLEU per bucket, shaded +-1 std across seeds."""
    lines = {}
    for exp, s in summary.items():
        mean, std = [b[2] for b in s["buckets"]], [b[3] for b in s["buckets"]]
        lines[exp] = LengthLine([b[1] for b in s["buckets"]], mean,
                                [m - d for m, d in zip(mean, std, strict=True)],
                                [m + d for m, d in zip(mean, std, strict=True)],
                                f"{label(exp)} ({s['seeds']} seeds)")
    return plot_length_lines(lines, path, "Sentence length (source words, bucket middle)",
                             "BLEU score (mean ± std over seeds)", band_alpha=0.15)


def run(sweep_dir: Path) -> dict[str, dict[str, Any]]:
    """Write sweep_report.md and bleu_by_length_seeds.png into `sweep_dir`; return the summary."""
    runs = collect_runs(sweep_dir)
    if not runs:
        raise FileNotFoundError(f"{sweep_dir}: no */reports/metrics/*.json; run `python -m "
                                "rnnsearch.experiment -m seed=1,2,3 experiment=...` first")
    summary = summarise(runs)
    fig = plot(summary, sweep_dir / "bleu_by_length_seeds.png")
    text = "\n".join([
        f"# Sweep {sweep_dir.name}: tokenized BLEU, mean ± std over seeds\n",
        table(summary), "", f"![Figure 2 with seed bands]({fig.name})", "",
        "Jobs: " + "; ".join(f"{label(e)}: {', '.join(j['job'] for j in js)}"
                             for e, js in runs.items()), ""])
    atomic_write_text(sweep_dir / "sweep_report.md", text)
    log.info("wrote %s", sweep_dir / "sweep_report.md")
    return summary


def main(argv: list[str] | None = None) -> int:
    """`python -m rnnsearch.sweep_report <sweep dir>`; one line and exit 1 on a bad sweep dir."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="hydra.sweep.dir of an experiment sweep")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        run(args.sweep_dir)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
