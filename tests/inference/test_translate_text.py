"""Translating any text (`python -m rnnsearch.translate input=...`, `Translator`) with a tiny
model trained here: the same output as the test-set stage, n-best lists, [UNK] replacement, a
copied model directory, the shell against the API, and streaming through a pipe."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import DictConfig
from tests.conftest import TINY_MODEL, compose_config

from rnnsearch import Translator, generate, prepare, train, translate
from rnnsearch.data.vocab import BOS_ID, EOS_ID
from rnnsearch.inference.translator import replace_unknowns

ROOT = Path(__file__).resolve().parents[2]
EXP = "rnnsearch_30"
TINY = (
    "data.embedded.n_train=200", "data.embedded.n_dev=10", "data.embedded.n_test=24",
    "data.vocab_size=120", *TINY_MODEL, "data.batch_size=16", "data.sort_batches=2",
    "data.dev_bleu_sentences=4", "trainer=smoke", "decode.beam_size=3", "decode.batch_size=8",
    f"experiment={EXP}", "logger=none",
)
DECODE = ("decode.ignore_unk=false",)  # the test stage's All column allows [UNK]


def _cfg(root: Path, *overrides: str) -> DictConfig:
    return compose_config(root, *TINY, *overrides)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """generate -> prepare -> train (6 updates) -> translate the test split."""
    root = tmp_path_factory.mktemp("text")
    generate.run(_cfg(root))
    prepare.run(_cfg(root))
    train.run(_cfg(root))
    translate.run(_cfg(root))
    return root


def _raw_test(root: Path) -> Path:
    path = root / "raw_test.en"
    with gzip.open(root / "data/embedded/test.en.gz", "rt", encoding="utf-8") as fh:
        path.write_text(fh.read(), encoding="utf-8")
    return path


def test_raw_test_sentences_give_the_pipeline_output(trained: Path) -> None:
    out = trained / "text.hyp"
    translate.run(_cfg(trained, f"input={_raw_test(trained)}", f"output={out}", *DECODE))
    expected = (trained / f"artifacts/translations/{EXP}/test.hyp.detok").read_text()
    assert out.read_text(encoding="utf-8") == expected


def _logprob(model, src_ids: list[int], ids: list[int], ended: bool) -> float:
    src = torch.tensor([[*src_ids, EOS_ID]])
    out = ids + ([EOS_ID] if ended else [])
    tgt_in = torch.tensor([[BOS_ID, *out[:-1]]])
    logp = torch.log_softmax(model(src, src != 0, tgt_in).double(), dim=-1)[0]  # (T, V)
    return float(sum(logp[t, y] for t, y in enumerate(out)))


def test_n_best_is_sorted_and_scored_by_the_model(trained: Path) -> None:
    tr = Translator.from_dir(trained / f"artifacts/models/{EXP}")
    sentences = _raw_test(trained).read_text(encoding="utf-8").splitlines()[:4]
    one = tr.translate(sentences, beam_size=3, n_best=1)
    many = tr.translate(sentences, beam_size=3, n_best=3)
    for best, t in zip(one, many, strict=True):
        scores = [h.score for h in t.alternatives]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert t.alternatives[0].tokens == best.tokens and t.text == best.text
        src_ids = tr.src_vocab.encode(t.source_tokens)
        for h in t.alternatives:
            ids = tr.tgt_vocab.encode(h.tokens)
            ended = h.attention.shape[0] == len(ids) + 1
            assert h.score == pytest.approx(_logprob(tr.model, src_ids, ids, ended), abs=1e-4)


def test_replace_unk_copies_the_most_attended_source_word() -> None:
    alpha = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.1, 0.8, 0.0], [0.0, 0.3, 0.2, 0.5]])
    # row 2: EOS column has the most weight; among the words, "b" wins
    out = replace_unknowns(["x", "[UNK]", "[UNK]"], ["a", "b", "c"], alpha)
    assert out == ["x", "c", "b"]


def test_a_copied_model_dir_translates_without_the_prepared_data(trained: Path,
                                                               tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(trained / f"artifacts/models/{EXP}", copy)
    moved = trained / "prepared_moved"
    (trained / "artifacts/prepared").rename(moved)
    try:
        before = Translator.from_dir(copy).translate(["the house is small ."])[0]
        assert before.tokens and before.text
    finally:
        moved.rename(trained / "artifacts/prepared")


def test_an_old_model_dir_gets_one_line_saying_how_to_add_the_files(trained: Path,
                                                                   tmp_path: Path) -> None:
    copy = tmp_path / "old"
    shutil.copytree(trained / f"artifacts/models/{EXP}", copy)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="lacks tokenizer.json.*add_model_files"):
        Translator.from_dir(copy)


def _shell(trained: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "rnnsearch.translate", f"paths.root_dir={trained}", *TINY,
           *DECODE, *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_the_shell_and_the_api_agree_and_bad_input_is_named(trained: Path) -> None:
    lines = ["the house is small .", "", "a big red car"]
    src = trained / "own.en"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = _shell(trained, f"input={src}")
    assert proc.returncode == 0, proc.stderr
    api = Translator.from_dir(trained / f"artifacts/models/{EXP}").translate(lines, beam_size=3)
    assert proc.stdout.splitlines() == [t.text for t in api]
    assert proc.stdout.splitlines()[1] == ""  # an empty line stays an empty line
    src.write_bytes(b"fine\n\xff\xfe bad\n")
    bad = _shell(trained, f"input={src}")
    assert bad.returncode != 0 and "line 2 is not valid UTF-8" in bad.stderr
    assert len([x for x in bad.stderr.splitlines() if x.strip()]) == 1


def test_streaming_answers_before_stdin_closes(trained: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "rnnsearch.translate", f"paths.root_dir={trained}", *TINY,
           *DECODE, "input=-"]
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=env, bufsize=1)
    try:
        child.stdin.write("the house is small .\n")
        child.stdin.flush()
        first = child.stdout.readline()  # stdin still open: the answer comes line by line
        assert first.endswith("\n") and child.poll() is None
    finally:
        child.stdin.close()
        child.wait(timeout=120)


def test_alignments_and_heatmaps_describe_each_translation(trained: Path) -> None:
    src, out = trained / "two.en", trained / "two.fr"
    src.write_text("the house is small .\na big red car\n", encoding="utf-8")
    align, figs = trained / "two.align.jsonl", trained / "figs"
    translate.run(_cfg(trained, f"input={src}", f"output={out}", f"alignments={align}",
                       f"heatmaps={figs}", *DECODE))
    records = [json.loads(line) for line in align.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2 == len(out.read_text(encoding="utf-8").splitlines())
    for r in records:
        alpha = np.array(r["alpha"])  # (|y| [+ EOS], |x| + EOS)
        assert alpha.shape[1] == len(r["source"]) + 1
        assert alpha.shape[0] in (len(r["target"]), len(r["target"]) + 1)
        assert np.allclose(alpha.sum(axis=1), 1.0, atol=1e-3)
        links = [tuple(map(int, x.split("-"))) for x in r["links"].split()]
        assert [j for _, j in links] == list(range(len(r["target"])))  # one link per word
    assert sorted(p.name for p in figs.glob("*.png")) == ["alignment_00000.png",
                                                           "alignment_00001.png"]


def test_a_line_over_max_input_tokens_is_refused_naming_it(trained: Path) -> None:
    src = trained / "long.en"
    src.write_text("the cat .\n" + "the " * 12 + ".\n", encoding="utf-8")  # line 2: 13 tokens
    out = trained / "long.fr"
    proc = _shell(trained, f"input={src}", f"output={out}", "decode.max_input_tokens=12")
    errors = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode != 0 and len(errors) == 1, proc.stderr
    assert f"{src}: line 2 has 13 tokens, over decode.max_input_tokens=12" in errors[0]
    assert not out.exists()  # nothing written half-way
    streamed = _shell(trained, "input=-", "decode.max_input_tokens=12", stdin=src.read_text())
    assert streamed.returncode != 0 and "stdin: line 2 has 13 tokens" in streamed.stderr
    assert len(streamed.stdout.splitlines()) == 1  # line 1 was answered before line 2 came
    tr = Translator.from_dir(trained / f"artifacts/models/{EXP}")
    tr.max_input_tokens = 12
    with pytest.raises(ValueError, match=re.escape("input: line 2 has 13 tokens")):
        tr.translate(["the cat .", "the " * 12 + "."])
    assert len(tr.translate(["the " * 11 + "."])[0].source_tokens) == 12  # at the limit: kept
