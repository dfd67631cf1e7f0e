"""Translating any text (`python -m rnnsearch.translate input=...`, `Translator`) with the tiny
model of conftest.py: the same output as the test-set stage, the API's n-best lists, [UNK]
replacement, a copied model directory, the shell against the API with the default settings, and
streaming through a pipe. The shell's decode options: test_shell_decode_options.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.inference.tiny_model import (
    ALL_COLUMN,
    SHELL_ENV,
    cfg_for,
    forced_log_p,
    raw_test,
    run_shell,
    shell_command,
)

from rnnsearch import Translator, translate
from rnnsearch.inference.translator import replace_unknowns


def test_raw_test_sentences_give_the_pipeline_output(trained: Path) -> None:
    out = trained / "text.hyp"
    translate.run(cfg_for(trained, f"input={raw_test(trained)}", f"output={out}", *ALL_COLUMN))
    expected = (trained / "artifacts/translations/rnnsearch_30/test.hyp.detok").read_text()
    assert out.read_text(encoding="utf-8") == expected


def test_n_best_is_strictly_sorted_and_scored_by_the_model(trained: Path,
                                                          model_dir: Path) -> None:
    tr = Translator.from_dir(model_dir)
    sentences = raw_test(trained).read_text(encoding="utf-8").splitlines()[:4]
    one = tr.translate(sentences, n_best=1)
    many = tr.translate(sentences, n_best=3)
    for best, t in zip(one, many, strict=True):
        assert len(t.alternatives) == 3
        assert t.alternatives[0].tokens == best.tokens and t.text == best.text
        forced = [forced_log_p(tr, h) for h in t.alternatives]
        assert [h.score for h in t.alternatives] == pytest.approx(forced, abs=1e-4)
        # best first by the model's own log p, each clearly above the next (this model's gaps are
        # 0.1 and more): any two hypotheses in the wrong order fail here
        assert all(a > b + 1e-3 for a, b in zip(forced, forced[1:], strict=False)), forced


def test_replace_unk_copies_the_most_attended_source_word() -> None:
    alpha = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.1, 0.8, 0.0], [0.0, 0.3, 0.2, 0.5]])
    # row 2: EOS column has the most weight; among the words, "b" wins
    out = replace_unknowns(["x", "[UNK]", "[UNK]"], ["a", "b", "c"], alpha)
    assert out == ["x", "c", "b"]


def test_a_copied_model_dir_translates_without_the_prepared_data(trained: Path, model_dir: Path,
                                                               tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    moved = trained / "prepared_moved"
    (trained / "artifacts/prepared").rename(moved)
    try:
        before = Translator.from_dir(copy).translate(["the house is small ."])[0]
        assert before.tokens and before.text
    finally:
        moved.rename(trained / "artifacts/prepared")


def test_an_old_model_dir_gets_one_line_saying_how_to_add_the_files(model_dir: Path,
                                                                   tmp_path: Path) -> None:
    copy = tmp_path / "old"
    shutil.copytree(model_dir, copy)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="lacks tokenizer.json.*add_model_files"):
        Translator.from_dir(copy)


def test_the_shell_and_the_api_agree_by_default_and_bad_input_is_named(
        trained: Path, model_dir: Path) -> None:
    lines = [*raw_test(trained).read_text(encoding="utf-8").splitlines()[:3], "",
             "the house is small ."]
    src = trained / "own.en"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_shell(trained, f"input={src}")  # every decode option at its default
    assert proc.returncode == 0, proc.stderr
    tr = Translator.from_dir(model_dir)
    assert proc.stdout.splitlines() == [t.text for t in tr.translate(lines)]
    assert proc.stdout.splitlines()[3] == ""  # an empty line stays an empty line
    # the defaults decide what is read: with [UNK] allowed the same model says something else
    assert [t.text for t in tr.translate(lines, ignore_unk=False)] != proc.stdout.splitlines()
    src.write_bytes(b"fine\n\xff\xfe bad\n")
    bad = run_shell(trained, f"input={src}")
    assert bad.returncode != 0 and "line 2 is not valid UTF-8" in bad.stderr
    assert len([x for x in bad.stderr.splitlines() if x.strip()]) == 1


def test_streaming_answers_before_stdin_closes(trained: Path) -> None:
    child = subprocess.Popen(shell_command(trained, "input=-"), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=SHELL_ENV, bufsize=1)
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
    translate.run(cfg_for(trained, f"input={src}", f"output={out}", f"alignments={align}",
                       f"heatmaps={figs}"))
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


def test_a_line_over_max_input_tokens_is_refused_naming_it(trained: Path,
                                                           model_dir: Path) -> None:
    src = trained / "long.en"
    src.write_text("the cat .\n" + "the " * 12 + ".\n", encoding="utf-8")  # line 2: 13 tokens
    out = trained / "long.fr"
    proc = run_shell(trained, f"input={src}", f"output={out}", "decode.max_input_tokens=12")
    errors = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode != 0 and len(errors) == 1, proc.stderr
    assert f"{src}: line 2 has 13 tokens, over decode.max_input_tokens=12" in errors[0]
    assert not out.exists()  # nothing written half-way
    streamed = run_shell(trained, "input=-", "decode.max_input_tokens=12", stdin=src.read_text())
    assert streamed.returncode != 0 and "stdin: line 2 has 13 tokens" in streamed.stderr
    assert len(streamed.stdout.splitlines()) == 1  # line 1 was answered before line 2 came
    tr = Translator.from_dir(model_dir)
    tr.max_input_tokens = 12
    with pytest.raises(ValueError, match=re.escape("input: line 2 has 13 tokens")):
        tr.translate(["the cat .", "the " * 12 + "."])
    assert len(tr.translate(["the " * 11 + "."])[0].source_tokens) == 12  # at the limit: kept
