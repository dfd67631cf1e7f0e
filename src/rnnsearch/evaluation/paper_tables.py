"""The paper's published numbers and the tables and Figure 2 that put ours beside them.

Paper: Table 1 (BLEU, "All" / "No UNK"), Figure 2 (BLEU vs source length), the appendix table of
learning statistics. Used by report.py; pure functions of already-computed metrics.
Not responsible for computing BLEU (bleu.py) or the Figure 3 heat maps (alignment.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from rnnsearch.io_utils import atomic_path  # noqa: E402

PAPER_CITATION = (
    "Bahdanau, Cho & Bengio, Neural Machine Translation by Jointly Learning to Align and "
    "Translate, ICLR 2015 (arXiv:1409.0473v7), Table 1: tokenized BLEU on news-test-2014"
)
# experiment id -> (paper's label, paper All, paper No UNK); Table 1 of the paper.
PAPER_TABLE1: dict[str, tuple[str, float, float]] = {
    "rnnencdec_30": ("RNNencdec-30", 13.93, 24.19),
    "rnnsearch_30": ("RNNsearch-30", 21.50, 31.44),
    "rnnencdec_50": ("RNNencdec-50", 17.82, 26.71),
    "rnnsearch_50": ("RNNsearch-50", 26.75, 34.16),
    "rnnsearch_50star": ("RNNsearch-50*", 28.45, 36.15),
}
PAPER_MOSES = ("Moses", 33.30, 35.63)
# experiment id -> (updates, train NLL, dev NLL) of the paper's Table 2 (App. B.2), NLL/sentence
PAPER_TABLE2: dict[str, tuple[int, float, float]] = {
    "rnnencdec_30": (846_000, 28.1, 53.0),
    "rnnencdec_50": (600_000, 44.0, 43.6),
    "rnnsearch_30": (471_000, 26.7, 47.2),
    "rnnsearch_50": (288_000, 40.7, 38.1),
    "rnnsearch_50star": (667_000, 36.7, 35.2),
}
EXPERIMENTS: tuple[str, ...] = tuple(PAPER_TABLE1)  # report order (the paper's row order)
# Figure 2's line styles: RNNsearch solid/dashed, RNNencdec dash-dot/dotted.
STYLES = {"rnnsearch_50star": ("tab:purple", "-", "*"), "rnnsearch_50": ("tab:red", "-", "o"),
          "rnnsearch_30": ("tab:orange", "--", "s"), "rnnencdec_50": ("tab:blue", "-.", "^"),
          "rnnencdec_30": ("tab:green", ":", "v")}


def label(exp: str) -> str:
    """The paper's name for an experiment id (the id itself when the paper has none)."""
    return PAPER_TABLE1.get(exp, (exp,))[0]


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table1(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """Table 1: our tokenized BLEU (All, No UNK) and detokenized sacreBLEU beside the paper's."""
    rows = []
    for exp, m in metrics.items():
        _, paper_all, paper_no_unk = PAPER_TABLE1.get(exp, (exp, None, None))
        bleu, detok = m.get("bleu", {}), m.get("bleu_detok", {})
        rows.append([label(exp), bleu.get("all"), bleu.get("no_unk"), detok.get("all"),
                     paper_all, paper_no_unk])
    rows.append([f"{PAPER_MOSES[0]} (paper only)", None, None, None, *PAPER_MOSES[1:]])
    header = ["Model", "All (ours)", "No UNK (ours)", "sacreBLEU 13a All (ours)",
              "All (paper)", "No UNK (paper)"]
    return markdown_table(header, rows)


def learning_table(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """Learning statistics beside the paper's Table 2 (App. B.2), NLL per sentence as there.

    Per-token NLL is shown too: per-sentence NLL grows with sentence length, so it compares
    only between corpora of similar lengths.
    """
    keys = ["updates", "epochs", "hours", "device", "train_nll_sentence", "dev_nll_sentence",
            "train_nll_token", "dev_nll_token"]
    rows = []
    for exp, m in metrics.items():
        paper = PAPER_TABLE2.get(exp, (None, None, None))
        training = m.get("training", {})
        cells = [training.get(k) for k in keys]
        if training.get("stop_reason") == "time_limit":  # Table 2's count not reached
            cells[0] = f"{cells[0]} (stopped by the time limit)"
        rows.append([label(exp), *cells, *paper])
    return markdown_table(["Model", "Updates", "Epochs", "Hours", "Device",
                           "Train NLL/sent.", "Dev NLL/sent.", "Train NLL/token",
                           "Dev NLL/token", "Updates (paper)", "Train NLL/sent. (paper)",
                           "Dev NLL/sent. (paper)"], rows)


def quality_table(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """Whether each model really translates: distinct outputs, and AER of its attention."""
    rows = [[label(exp), m.get("distinct_outputs"), m.get("unk_share"),
             m.get("alignment", {}).get("aer")] for exp, m in metrics.items()]
    return markdown_table(["Model", "Distinct outputs (share of test sentences)",
                           "[UNK] share of output tokens",
                           "AER of attention argmax vs gold (lower is better)"], rows)


def length_shape_summary(curves: Mapping[str, list[dict[str, str]]]) -> str:
    """Figure 2's shape in numbers: each model's last (longest) bucket over its best bucket."""
    lines = []
    for exp, rows in curves.items():
        bleus = [float(r["bleu"]) for r in rows]
        if bleus and max(bleus) > 0:
            lines.append(f"- {label(exp)}: {rows[-1]['bucket']} bucket {bleus[-1]:.1f} = "
                         f"{bleus[-1] / max(bleus):.2f} x its best bucket ({max(bleus):.1f}).")
    return "\n".join(lines)


def length_table(curves: Mapping[str, list[dict[str, str]]]) -> str:
    """Figure 2's numbers: BLEU [95% CI] per bucket and model, with the bucket sizes."""
    buckets = next(iter(curves.values()), [])
    rows = []
    for k, b in enumerate(buckets):
        cells = [f"{float(c[k]['bleu']):.2f} [{float(c[k]['ci_low']):.1f}, "
                 f"{float(c[k]['ci_high']):.1f}]" for c in curves.values()]
        rows.append([b["bucket"], b["n"], *cells])
    return markdown_table(["Source length", "Sentences", *map(label, curves)], rows)


def plot_bleu_by_length(
    curves: Mapping[str, list[dict[str, str]]], path: str | os.PathLike[str]
) -> Path:
    """Figure 2: BLEU against source sentence length, one line (with its 95% CI band) per model.

    Args:
        curves: experiment id -> rows of its bleu_by_length.csv (bucket, length, bleu, ci_*, n).
        path: image file to write.
    """
    lines = {exp: LengthLine([float(r["length"]) for r in rows], [float(r["bleu"]) for r in rows],
                             [float(r["ci_low"]) for r in rows],
                             [float(r["ci_high"]) for r in rows], label(exp))
             for exp, rows in curves.items()}
    return plot_length_lines(lines, path, "Sentence length (source words, middle of the 10-word "
                             "bucket)", "BLEU score", band_alpha=0.12)


@dataclass(frozen=True)
class LengthLine:
    """One model's curve of Figure 2: BLEU per length bucket and a band around it."""

    x: list[float]  # bucket middles (source words)
    y: list[float]
    low: list[float]
    high: list[float]
    name: str  # legend entry


def plot_length_lines(lines: Mapping[str, LengthLine], path: str | os.PathLike[str],
                      xlabel: str, ylabel: str, band_alpha: float) -> Path:
    """Draw Figure 2's layout (one styled line and shaded band per experiment id) to `path`."""
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for exp, line in lines.items():
        color, style, marker = STYLES.get(exp, ("black", "-", "."))
        ax.plot(line.x, line.y, style, color=color, marker=marker, label=line.name)
        ax.fill_between(line.x, line.low, line.high, color=color, alpha=band_alpha)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def long_sentence_summary(curves: Mapping[str, list[dict[str, str]]], above: int = 30) -> str:
    """Does RNNsearch beat RNNencdec on long sentences (Figure 2's claim)? One line per cap."""
    lines = []
    for cap in ("30", "50"):
        search, encdec = curves.get(f"rnnsearch_{cap}"), curves.get(f"rnnencdec_{cap}")
        if not (search and encdec):
            continue
        pairs = [(float(s["bleu"]), float(e["bleu"]), s["bucket"])
                 for s, e in zip(search, encdec, strict=True) if float(s["length"]) > above]
        wins = [b for s, e, b in pairs if s > e]
        lines.append(f"- Sources of {above} words or more: RNNsearch-{cap} is above "
                     f"RNNencdec-{cap} in {len(wins)} of {len(pairs)} buckets "
                     f"({', '.join(wins) or 'none'}).")
    return "\n".join(lines)


def sharpness_note(values: Sequence[float]) -> str:
    """How peaked the plotted alignments are; warns when the model never learned to align."""
    if not values:
        return ""
    mean = sum(values) / len(values)
    line = (f"Sharpness (mean over target words of max_j alpha_ij times the source length; 1 = "
            f"uniform, |x| = one-hot): {', '.join(f'{v:.2f}' for v in values)}.")
    if mean < 1.1:
        line += (" **The alignments are (nearly) uniform: this model has not learned to align;"
                 " its context is the average of the annotations.**")
    return line


def _shortlist(cfg: Any, stats: Mapping[str, Any]) -> str:
    """`data.vocab_size`, with the sizes `auto` chose per language (from stats.json)."""
    if cfg.data.vocab_size != "auto":
        return str(cfg.data.vocab_size)
    return "auto (" + ", ".join(f"{lang} {n}" for lang, n in stats.get("vocab", {}).items()) + ")"


def _sizes(m: Mapping[str, Any]) -> str:
    """The model sizes translate recorded (the checkpoint's model config)."""
    model = m.get("checkpoint", {}).get("model")
    if not model:
        return "model sizes not recorded (translate again)"
    return (f"embeddings {model.get('emb_dim')}, hidden {model.get('hidden_dim')}, alignment "
            f"{model.get('attn_dim')}, maxout {model.get('maxout_dim')}")


def _decoding(m: Mapping[str, Any]) -> str:
    """The decode settings translate recorded."""
    decode = m.get("decode", {})
    return f"beam {decode.get('beam_size')}, length normalisation {decode.get('length_normalize')}"


def _as_recorded(metrics: Mapping[str, Mapping[str, Any]],
                 describe: Callable[[Mapping[str, Any]], str]) -> str:
    """`describe` of what each experiment's translation recorded: once when all agree, else
    per model (`Model`: text; ...)."""
    texts = {label(e): describe(m) for e, m in metrics.items()}
    if len(set(texts.values())) == 1:
        return next(iter(texts.values()))
    return "; ".join(f"{name}: {text}" for name, text in texts.items())


def _setting(cfg: Any, stats: Mapping[str, Any],
             metrics: Mapping[str, Mapping[str, Any]]) -> str:
    flat = {f"{k}.{k2}" if isinstance(v, Mapping) else k: v2
            for k, v in stats.items()
            for k2, v2 in (v.items() if isinstance(v, Mapping) else [(k, v)])
            if not isinstance(v2, Mapping | list)}
    corpus = {"wmt14_lium": "WMT'14 English->French, the paper's own selected and tokenized "
                            "corpus (LIUM bitexts.selected; test ntst14 as tokenized there)",
              "wmt14_en_fr": "WMT'14 English->French re-selected here (an approximation of "
                             "Sec. 4.1's corpus: our selection and our Moses tokenization)",
              "embedded": "the embedded synthetic English-like -> French-like corpus "
                          "(data/embedded), not WMT'14"}.get(
        cfg.data.name, f"a user corpus ({cfg.data.src_lang}->{cfg.data.tgt_lang}, "
                       f"{cfg.data.raw_dir}), not WMT'14")
    lines = [
        f"- Corpus: `{cfg.data.name}`: {corpus}. Test set: the prepared `test` split.",
        f"- Scale: `{cfg.scale_name}`: {_as_recorded(metrics, _sizes)}, shortlist "
        f"{_shortlist(cfg, stats)} words per language (the paper: 620 / 1000 / 1000 / 500 / "
        "30000).",
        f"- Decoding: {_as_recorded(metrics, _decoding)}; BLEU by sacrebleu (the paper used "
        "multi-bleu.perl; `tokenize=none` without smoothing reproduces it).",
        "- Prepared data: " + ", ".join(f"{k} = {v}" for k, v in flat.items()),
    ]
    if cfg.data.name not in ("wmt14_lium", "wmt14_en_fr") or cfg.scale_name != "paper":
        lines.append("- **Absolute BLEU is not comparable with the paper's** (other corpus or "
                     "scale); compare the ordering of the models and the shape of Figure 2.")
    return "\n".join(lines)


def _checkpoint_cell(ckpt: Mapping[str, Any]) -> str:
    """`best, step 1500`: which checkpoint was translated (eval.checkpoint) and its update."""
    return f"{ckpt.get('choice', 'best')}, step {ckpt.get('step')}"


def render(cfg: Any, metrics: Mapping[str, Mapping[str, Any]],
           curves: Mapping[str, list[dict[str, str]]], stats: Mapping[str, Any],
           sig: Sequence[Mapping[str, Any]], fig2: Path, fig3: Sequence[tuple[Path, float]],
           reports: Path) -> str:
    """The whole results.md."""
    sigs = next(iter(metrics.values())).get("sacrebleu_signature", {})
    sig_rows = [[label(s["baseline"]), label(s["system"]), s["baseline_bleu"], s["system_bleu"],
                 f"{s['p_value']:.4f}"] for s in sig]
    decode_rows = [[label(e), m.get("decode", {}).get("beam_size"),
                    m.get("decode", {}).get("seconds"), m.get("decode", {}).get("device"),
                    _checkpoint_cell(m.get("checkpoint", {}))] for e, m in metrics.items()]
    fig3_md = [f"![Figure 3 example {k}]({p.relative_to(reports)})" for k, (p, _) in
               enumerate(fig3, start=1)]
    parts = [
        "# Results: RNNencdec vs RNNsearch\n",
        "Generated by `python -m rnnsearch.report` (DVC stage `report`); do not edit by hand.\n",
        "## Setting\n", _setting(cfg, stats, metrics),
        "\n## Table 1: BLEU on the test set\n",
        "Tokenized BLEU (multi-bleu style) on all sentences and on those with no [UNK] in the "
        "source or the reference; detokenized sacreBLEU for reference.\n",
        table1(metrics), f"\nPaper: {PAPER_CITATION}.\n",
        *[f"- `{k}` signature: `{v}`" for k, v in sigs.items()],
        "\n## Figure 2: BLEU against source sentence length\n",
        f"![Figure 2]({fig2.relative_to(reports)})\n", length_table(curves), "",
        long_sentence_summary(curves), length_shape_summary(curves),
        "\n## Figure 3: alignments (RNNsearch)\n", "\n".join(fig3_md) or "No examples.",
        "", sharpness_note([v for _, v in fig3]),
        "\n## Does each model translate? Output diversity and alignment quality\n",
        quality_table(metrics),
        "\n## Learning statistics beside the paper's Table 2\n",
        "NLL = negative log-probability of the reference; Table 2 reports it per sentence. "
        "Dev NLL is that of best.ckpt (lowest dev NLL); the checkpoint Table 1 translates "
        "(`eval.checkpoint`) is in the Decoding table.\n",
        learning_table(metrics),
        "\n## Significance: paired bootstrap resampling (sacrebleu --paired-bs)\n",
        markdown_table(["Baseline", "System", "BLEU base", "BLEU system", "p-value"], sig_rows)
        if sig_rows else "No RNNsearch / RNNencdec pair with translations.",
        "\n## Decoding\n",
        markdown_table(["Model", "Beam", "Seconds", "Device", "Checkpoint"], decode_rows),
    ]
    return "\n".join(parts) + "\n"
