"""report.run on fake evaluated experiments: results.md, figures, combined CSV, significance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnsearch import report
from rnnsearch.evaluation.alignment import save_examples
from rnnsearch.heatmap import AlignmentExample
from rnnsearch.io_utils import atomic_write_json, atomic_write_lines, atomic_write_text

EXPS = ["rnnencdec_30", "rnnencdec_50", "rnnsearch_30", "rnnsearch_50"]
SIZES = {"emb_dim": 11, "hidden_dim": 22, "attn_dim": 33, "maxout_dim": 44}  # not the config's


def _fake_outputs(root: Path) -> None:
    refs = [f"s{i} a b c d e f g" for i in range(30)]
    prepared = root / "artifacts" / "prepared" / "embedded"
    for name in ("test.fr.tok", "test.fr.raw", "test.en.tok"):
        atomic_write_lines(prepared / name, refs)
    atomic_write_json(prepared / "stats.json", {"test": {"sentences": 30}, "vocab_size": 100})
    for k, exp in enumerate(EXPS):
        good = "search" in exp
        bleu = 30.0 + 5 * k
        atomic_write_json(root / "reports" / "metrics" / f"{exp}.json", {
            "bleu": {"all": bleu, "no_unk": bleu + 3}, "bleu_detok": {"all": bleu - 1},
            "sacrebleu_signature": {"bleu": "nrefs:1|tok:none"},
            "training": {"updates": 100, "epochs": 1.5, "hours": 0.1, "train_nll_sentence": 40.0},
            "decode": {"beam_size": 12, "length_normalize": True, "seconds": 3.0},
            "checkpoint": {"step": 100, "model": SIZES},  # as translate recorded them
        })
        atomic_write_text(root / "reports" / "plots" / exp / "bleu_by_length.csv",
                          "bucket,length,bleu,ci_low,ci_high,n\n"
                          f"0-9,5.0,{bleu},{bleu - 2},{bleu + 2},20\n"
                          f"30-39,35.0,{bleu - (0 if good else 20)},1.0,40.0,10\n")
        trans = root / "artifacts" / "translations" / exp
        hyps = refs if good else [f"s{i} a x c y e z g" for i in range(30)]
        atomic_write_lines(trans / "test.hyp.tok", hyps)
        atomic_write_lines(trans / "test.hyp.detok", hyps)
        if good:
            alpha = np.full((3, 4), 0.25)
            save_examples(trans / "attention.npz",
                          [AlignmentExample(i, ["a", "b", "c"], ["x", "y"], alpha) for i in (2, 5)])


def test_report_writes_results_figures_and_significance(compose_cfg, tmp_path: Path) -> None:
    _fake_outputs(tmp_path)
    cfg = compose_cfg("eval.bootstrap_samples=100")
    out = report.run(cfg)
    reports = tmp_path / "reports"
    assert out["experiments"] == ["rnnencdec_30", "rnnsearch_30", "rnnencdec_50", "rnnsearch_50"]
    text = (reports / "results.md").read_text()
    assert "| RNNsearch-50 | 45.00 | 48.00 |" in text and "26.75" in text  # ours beside paper's
    assert "embedded" in text and "not comparable" in text
    assert "RNNsearch-50 is above RNNencdec-50 in 1 of 1 buckets" in text
    assert "not learned to align" in text  # the fake alignments are uniform
    for name in ["bleu_by_length.png", "alignment_1.png", "alignment_2.png"]:
        assert (reports / "figures" / name).read_bytes()[:4] == b"\x89PNG"
    combined = (reports / "plots" / "bleu_by_length.csv").read_text().splitlines()
    assert combined[0] == "experiment,bucket,length,bleu,ci_low,ci_high,n"
    assert len(combined) == 1 + 2 * len(EXPS)
    sig = json.loads((reports / "significance.json").read_text())["paired_bootstrap"]
    assert [(s["baseline"], s["system"]) for s in sig] == [("rnnencdec_30", "rnnsearch_30"),
                                                           ("rnnencdec_50", "rnnsearch_50")]
    assert all(s["p_value"] < 0.05 for s in sig)
    page = (reports / "alignments.html").read_text()  # the explorer: RNNsearch models only
    assert '"name":"RNNsearch-30"' in page and '"name":"RNNsearch-50"' in page
    assert "RNNencdec" not in page and page.count('"w":4') == 4  # 2 examples per model


def test_report_logs_each_rnnsearch_explorer_to_its_wandb_run(compose_cfg, tmp_path: Path,
                                                               monkeypatch) -> None:
    import rnnsearch.wandb_runs

    logged = []
    monkeypatch.setattr(rnnsearch.wandb_runs, "log_html",
                        lambda _cfg, exp, run_dir, key, page: logged.append((exp, run_dir.name,
                                                                             key, page)))
    _fake_outputs(tmp_path)
    report.run(compose_cfg("eval.bootstrap_samples=10", "logger=wandb"))
    assert [(e, d, k) for e, d, k, _ in logged] == [
        (e, e, "test/alignment_explorer") for e in ("rnnsearch_30", "rnnsearch_50")]
    for exp, _, _, page in logged:  # one model per run's panel
        name = "RNNsearch-30" if exp.endswith("30") else "RNNsearch-50"
        assert page.count('"name":"RNNsearch-') == 1 and f'"name":"{name}"' in page


def test_report_prints_the_settings_translate_recorded_not_its_config(compose_cfg,
                                                                       tmp_path: Path) -> None:
    """Beam, length normalisation and model sizes come from what each translation recorded
    (reports/details via translate.json), once when all agree, per model when they differ."""
    _fake_outputs(tmp_path)
    cfg = compose_cfg("eval.bootstrap_samples=10")
    assert cfg.decode.beam_size != 12 and cfg.model.emb_dim != SIZES["emb_dim"]
    report.run(cfg)
    text = (tmp_path / "reports" / "results.md").read_text()
    assert "- Scale: `demo`: embeddings 11, hidden 22, alignment 33, maxout 44, shortlist " in text
    assert "- Decoding: beam 12, length normalisation True; BLEU by sacrebleu" in text
    path = tmp_path / "reports" / "metrics" / "rnnsearch_50.json"
    metrics = json.loads(path.read_text())
    metrics["decode"]["beam_size"] = 5
    atomic_write_json(path, metrics)
    report.run(cfg)
    text = (tmp_path / "reports" / "results.md").read_text()
    assert ("- Decoding: RNNencdec-30: beam 12, length normalisation True; RNNsearch-30: beam 12, "
            "length normalisation True; RNNencdec-50: beam 12, length normalisation True; "
            "RNNsearch-50: beam 5, length normalisation True; BLEU") in text
