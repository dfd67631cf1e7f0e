"""The whole pipeline at toy scale through the stages' `run(cfg)` functions (no DVC needed).

generate -> prepare -> train (6 updates) -> translate -> evaluate for all four experiments,
then report; everything is written under a temporary directory.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from omegaconf import DictConfig
from sacrebleu.metrics import BLEU
from tests.conftest import TINY_MODEL, compose_config

from rnnsearch import evaluate, generate, prepare, report, train, translate
from rnnsearch.evaluation import report_stage
from rnnsearch.evaluation.alignment import alignment_error_rate, parse_pharaoh

pytestmark = pytest.mark.timeout(600)  # the module's fixture runs the whole pipeline

EXPERIMENTS = ("rnnencdec_30", "rnnencdec_50", "rnnsearch_30", "rnnsearch_50")
TINY = (
    "data.embedded.n_train=300", "data.embedded.n_dev=20", "data.embedded.n_test=70",
    "data.vocab_size=150", *TINY_MODEL, "data.batch_size=16", "data.sort_batches=2",
    "data.dev_bleu_sentences=8", "trainer=smoke", "decode.beam_size=3", "decode.batch_size=16",
    "eval.bootstrap_samples=50",
)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run every stage once; the tests below inspect the outputs."""
    root = tmp_path_factory.mktemp("pipeline")

    def cfg(*overrides: str) -> DictConfig:
        return compose_config(root, *TINY, *overrides)

    generate.run(cfg())
    prepare.run(cfg())
    for exp in EXPERIMENTS:
        exp_cfg = cfg(f"experiment={exp}")
        train.run(exp_cfg)
        translate.run(exp_cfg)
        evaluate.run(exp_cfg)
    report.run(cfg())
    return root


def test_translations_cover_the_test_set(pipeline: Path) -> None:
    n_test = len((pipeline / "artifacts/prepared/embedded/test.fr.tok").read_text().splitlines())
    for exp in EXPERIMENTS:
        trans = pipeline / "artifacts/translations" / exp
        for name in ("test.hyp.tok", "test.hyp.detok"):
            assert len((trans / name).read_text().splitlines()) == n_test
        info = json.loads((trans / "translate.json").read_text())
        assert info["checkpoint"]["step"] == 6 and info["seconds"] > 0
        assert (trans / "attention.npz").is_file()


PREPARED = "artifacts/prepared/embedded"


def _sacrebleu(hyp_path: Path, ref_path: Path, tokenize: str) -> float:
    """Corpus BLEU of two written files, computed here with sacrebleu, as evaluate rounds it.

    Tokenized BLEU is multi-bleu.perl's: no smoothing (a zero n-gram precision gives 0).
    """
    hyps, refs = (p.read_text(encoding="utf-8").splitlines() for p in (hyp_path, ref_path))
    plain = {"smooth_method": "none", "force": True} if tokenize == "none" else {}
    return round(BLEU(tokenize=tokenize, **plain).corpus_score(hyps, [refs]).score, 2)


def test_metrics_json_has_table1_fields_and_signatures(pipeline: Path) -> None:
    for exp in EXPERIMENTS:
        m = report_stage.load_metrics(pipeline / "reports", exp)  # metrics + details + runs
        trans, prepared = pipeline / "artifacts/translations" / exp, pipeline / PREPARED
        assert m["bleu"]["all"] == _sacrebleu(trans / "test.hyp.tok", prepared / "test.fr.tok",
                                              "none")
        assert m["bleu_detok"]["all"] == _sacrebleu(trans / "test.hyp.detok",
                                                    prepared / "test.fr.raw", "13a")
        assert "no_unk" in m["bleu"]
        assert "tok:none" in m["sacrebleu_signature"]["bleu"]
        assert "tok:13a" in m["sacrebleu_signature"]["bleu_detok"]
        assert m["n_sentences"]["all"] == 70 and m["training"]["updates"] == 6
        csv = (pipeline / "reports/plots" / exp / "bleu_by_length.csv").read_text().splitlines()
        assert csv[0] == "bucket,length,bleu,ci_low,ci_high,n" and len(csv) == 1 + 7


def test_report_ties_the_experiments_together(pipeline: Path) -> None:
    text = (pipeline / "reports/results.md").read_text()
    for label in ("RNNencdec-30", "RNNencdec-50", "RNNsearch-30", "RNNsearch-50"):
        assert f"| {label} |" in text
    figures = pipeline / "reports/figures"
    assert (figures / "bleu_by_length.png").is_file() and (figures / "alignment_1.png").is_file()
    sig = json.loads((pipeline / "reports/significance.json").read_text())["paired_bootstrap"]
    assert len(sig) == 2
    page = (pipeline / "reports/alignments.html").read_text()  # the explorer: RNNsearch only
    assert '"name":"RNNsearch-30"' in page and '"name":"RNNsearch-50"' in page
    assert "RNNencdec" not in page and '"a":"' in page  # with heat maps


def test_no_unk_column_is_decoded_without_unk(pipeline: Path) -> None:
    """Table 1 (o): translate re-decodes the No-UNK subset with [UNK] forbidden."""
    for exp in EXPERIMENTS:
        trans = pipeline / "artifacts/translations" / exp
        info = json.loads((trans / "translate.json").read_text())
        assert info["ignore_unk"] and info["decode"]["length_rule"] == "groundhog"
        lines = (trans / info["no_unk_files"]["tok"]).read_text().splitlines()
        assert len(lines) == info["n_no_unk_sentences"]
        assert not any("[UNK]" in line.split() for line in lines)
        m = report_stage.load_metrics(pipeline / "reports", exp)
        assert m["n_sentences"]["no_unk"] == len(lines) and m["decode"]["ignore_unk"] is True


RUN_KEYS = {"seconds", "hours", "sha256", "path", "device", "sentences_per_second", "tok_s"}


def _declared_metrics(repo_root: Path) -> set[str]:
    """Paths dvc.yaml declares as metrics (stage `metrics:` and top-level), ${key} expanded."""
    spec = yaml.safe_load((repo_root / "dvc.yaml").read_text())
    paths = set(spec.get("metrics", []))
    for stage in spec["stages"].values():
        for entry in stage.get("do", stage).get("metrics", []):
            paths |= set(entry) if isinstance(entry, dict) else {entry}
    return {p.replace("${key}", exp) for p in paths for exp in EXPERIMENTS}


def _keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_dvc_metrics_hold_no_timings_paths_or_hashes(pipeline: Path, repo_root: Path) -> None:
    """`dvc metrics diff` of two identical runs must be empty: run facts live in reports/runs."""
    declared = _declared_metrics(repo_root)
    assert "reports/prepared_stats.json" not in declared
    files = {f for p in declared for f in
             ((pipeline / p).glob("*.json") if (pipeline / p).is_dir() else [pipeline / p])}
    assert declared == {"reports/metrics", *(f"reports/metrics/{e}.json" for e in EXPERIMENTS)}
    assert len(files) == len(EXPERIMENTS)  # reports/metrics/<exp>.json, nothing else
    for f in files:
        data = json.loads(f.read_text())
        assert not _keys(data) & RUN_KEYS, f
        assert str(pipeline) not in f.read_text(), f
    for exp in EXPERIMENTS:  # what was moved out is still written, for report.py and people
        run = json.loads((pipeline / "reports/runs" / f"{exp}.json").read_text())
        assert run["decode"]["seconds"] > 0 and len(run["checkpoint"]["sha256"]) == 64
    assert json.loads((pipeline / "reports/runs/prepare.json").read_text())["seconds"] > 0
    # seconds, device: runs/; the checkpoint translated (eval.checkpoint) and its step
    decode_row = r"\| RNNsearch-50 \| 3 \| [0-9.]+ \| cpu \| best, step 6 \|"
    assert re.search(decode_row, (pipeline / "reports/results.md").read_text())


def test_dvc_metrics_hold_only_bleu_dev_ppl_and_aer(pipeline: Path) -> None:
    """`dvc metrics show` reads: Table 1's four BLEU numbers, dev perplexity, AER (RNNsearch);
    the rest is in reports/details and still reaches results.md through report.load_metrics."""
    table1 = {"bleu": {"all", "no_unk"}, "bleu_detok": {"all", "no_unk"}}
    for exp in EXPERIMENTS:
        m = json.loads((pipeline / "reports/metrics" / f"{exp}.json").read_text())
        want = {**table1, **({"alignment": {"aer"}} if exp.startswith("rnnsearch") else {})}
        assert set(m) == {*want, "dev_ppl"}, exp
        assert {k: set(m[k]) for k in want} == want, exp
        assert m["dev_ppl"] > 1.0 and all(isinstance(m[k]["all"], float) for k in table1)
        details = json.loads((pipeline / "reports/details" / f"{exp}.json").read_text())
        assert {"sacrebleu_signature", "n_sentences", "distinct_outputs", "checkpoint", "decode",
                "training"} <= set(details)
        assert not set(details) & {"bleu", "bleu_detok", "dev_ppl"}
        merged = report_stage.load_metrics(pipeline / "reports", exp)
        assert merged["bleu"] == m["bleu"] and merged["checkpoint"]["step"] == 6
    text = (pipeline / "reports/results.md").read_text()
    assert "`bleu` signature: `nrefs:1|case:mixed|eff:no|tok:none" in text  # from details


def test_attention_aer_and_output_diversity_are_reported(pipeline: Path) -> None:
    """AER for the RNNsearch models only, recomputed here from the written links; the share of
    distinct outputs for every model; both in results.md with Table 2's per-sentence NLL."""
    gold_lines = (pipeline / "data" / "embedded" / "test.align.gz").read_bytes()
    gold = [parse_pharaoh(line) for line in gzip.decompress(gold_lines).decode().splitlines()]
    for exp in EXPERIMENTS:
        m = report_stage.load_metrics(pipeline / "reports", exp)
        hyps = (pipeline / f"artifacts/translations/{exp}/test.hyp.tok").read_text().splitlines()
        assert m["distinct_outputs"] == pytest.approx(len(set(hyps)) / len(hyps), abs=1e-4)
        tokens = [tok for line in hyps for tok in line.split()]
        assert m["unk_share"] == pytest.approx(tokens.count("[UNK]") / len(tokens), abs=1e-4)
        links_file = pipeline / f"artifacts/translations/{exp}/test.ref.align"
        if exp.startswith("rnnencdec"):
            assert "alignment" not in m and not links_file.exists()
            continue
        links = [parse_pharaoh(line) for line in links_file.read_text().splitlines()]
        assert len(links) == len(gold) == 70
        assert all(len(x) > 0 for x in links)  # one link per reference word
        assert m["alignment"]["aer"] == pytest.approx(alignment_error_rate(links, gold), abs=1e-4)
        assert 0.0 <= m["alignment"]["aer"] <= 1.0
        assert {"train_nll_sentence", "dev_nll_sentence", "dev_nll_token"} <= set(m["training"])
    text = (pipeline / "reports/results.md").read_text()
    assert "AER of attention argmax" in text and "Dev NLL/sent. (paper)" in text
    assert "| RNNsearch-50 |" in text and "38.1" in text  # the paper's Table 2 dev NLL


def _compose(root: Path, *overrides: str) -> DictConfig:
    return compose_config(root, *TINY, *overrides)


@pytest.mark.parametrize("exp", ["rnnsearch_30", "rnnencdec_30"])
def test_evaluate_logs_test_results_into_the_training_wandb_run(
        pipeline: Path, exp: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline W&B: evaluate resumes the run id kept in the model dir and logs Table 1's BLEU,
    BLEU by length and Figures 2 and 3 (3 only for RNNsearch); logger=csv logs nothing."""
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline must be the default
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # any network use would fail
    save_dir = pipeline / "artifacts" / "wandb"
    evaluate.run(_compose(pipeline, f"experiment={exp}", "logger=csv"))
    assert not save_dir.exists()  # csv / none: nothing goes to W&B
    run_id = f"train{exp[3:9]}"  # as train.py's tracker left it in the model directory
    (pipeline / "artifacts/models" / exp / "wandb_run_id.txt").write_text(run_id + "\n")
    cfg = _compose(pipeline, f"experiment={exp}", "logger=wandb")
    assert cfg.logger.mode == "offline"
    evaluate.run(cfg)
    (run_dir,) = (save_dir / "wandb").glob(f"offline-run-*-{run_id}")  # the training's run
    record = next(run_dir.glob(f"run-{run_id}.wandb")).read_bytes()
    keys = ["test/bleu_all", "test/bleu_no_unk", "test/bleu_detok_all", "test/bleu_detok_no_unk",
            "test/bleu_by_length", "test/figure2_bleu_by_length"]
    keys += ["test/figure3_alignment", "test/aer"] if exp.startswith("rnnsearch") else []
    for key in keys:
        assert key.encode() in record, key
    media = run_dir / "files" / "media"
    assert list(media.glob("table/test/bleu_by_length_*.table.json"))
    assert list(media.glob("images/test/figure2_bleu_by_length_*.png"))
    assert bool(list(media.glob("images/test/figure3_alignment_*.png"))) == \
        exp.startswith("rnnsearch")
    assert (pipeline / "artifacts/models" / exp / "wandb_run_id.txt").read_text() == run_id + "\n"
    shutil.rmtree(save_dir)  # later tests see the fixture unchanged
    (pipeline / "artifacts/models" / exp / "wandb_run_id.txt").unlink()
