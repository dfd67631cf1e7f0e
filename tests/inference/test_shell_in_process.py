"""The translate shell run in this process (`shell.run_text`), on a hand-made model directory.

test_translate_text.py runs the command line on a trained model; here the shell's output is
checked line by line against the Python API on the same model: the n-best lines (index, text,
score, best first), streaming from stdin, output= and alignments= files, error lines that name
stdin or the file and the line, and the device the model is loaded on. The model directory is
what training writes (config.yaml, both vocabularies, tokenizer.json, best.ckpt), with random
weights made far from uniform so that every choice is clear-cut: it loads in about a second.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.inference.handmade import LINES, compose, model_dirs, translator

from rnnsearch.decoding.settings import DecodeSettings
from rnnsearch.inference import shell
from rnnsearch.inference.translator import Translator


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{experiment: root} of an RNNsearch and an RNNencdec model directory."""
    return model_dirs(tmp_path_factory)


def _input(root: Path, lines: list[str]) -> Path:
    path = root / "input.en"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _run(root: Path, experiment: str, *overrides: str, stdin: bytes | None = None,
         monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[list[str], dict]:
    """(stdout lines, summary) of the shell on `overrides` (input=-: `stdin` is its bytes)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    out = io.StringIO()
    cfg = compose(root, experiment, *overrides)
    summary = shell.run_text(cfg, DecodeSettings.from_config(cfg.decode), out)
    return out.getvalue().splitlines(), summary


def test_one_best_lines_are_the_apis_translations(roots, monkeypatch) -> None:
    root = roots["rnnsearch_30"]
    api = [t.text for t in translator(root, "rnnsearch_30").translate(LINES, beam_size=3)]
    assert api[1] == "" and all(api[i] for i in (0, 2, 3))
    lines, summary = _run(root, "rnnsearch_30", f"input={_input(root, LINES)}")
    assert lines == api
    assert summary == {"sentences": 4, "model_dir": str(root / "artifacts/models/rnnsearch_30")}
    streamed, summary = _run(root, "rnnsearch_30", "input=-", monkeypatch=monkeypatch,
                             stdin="".join(f"{line}\r\n" for line in LINES).encode())
    assert streamed == api and summary["sentences"] == 4  # CRLF line ends are not words


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_n_best_lines_give_index_text_and_score_best_first(roots, monkeypatch,
                                                           source: str) -> None:
    root = roots["rnnsearch_30"]
    api = translator(root, "rnnsearch_30").translate(LINES, beam_size=3, n_best=3)
    where = f"input={_input(root, LINES)}" if source == "file" else "input=-"
    lines, _ = _run(root, "rnnsearch_30", where, "decode.n_best=3", monkeypatch=monkeypatch,
                    stdin="".join(f"{line}\n" for line in LINES).encode())
    rows = [line.split("\t") for line in lines]
    expected = [[str(i), h.text, f"{h.score:.4f}"] for i, t in enumerate(api)
                for h in (t.alternatives or [t])]
    assert rows == expected
    for i in (0, 2, 3):
        scores = [float(r[2]) for r in rows if r[0] == str(i)]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert len({r[1] for r in rows if r[0] == str(i)}) > 1  # alternatives, not one line x3
    assert [r for r in rows if r[0] == "1"] == [["1", "", "0.0000"]]  # an empty input


def test_output_and_alignment_files_hold_each_translation(roots) -> None:
    root = roots["rnnsearch_30"]
    out, align = root / "out.fr", root / "out.align.jsonl"
    lines, _ = _run(root, "rnnsearch_30", f"input={_input(root, LINES)}", f"output={out}",
                    f"alignments={align}")
    api = translator(root, "rnnsearch_30").translate(LINES, beam_size=3)
    assert lines == []  # output= takes the translations instead of stdout
    assert out.read_text(encoding="utf-8").splitlines() == [t.text for t in api]
    records = [json.loads(line) for line in align.read_text(encoding="utf-8").splitlines()]
    assert [r["index"] for r in records] == [0, 1, 2, 3]
    for r, t in zip(records, api, strict=True):
        assert (r["source"], r["target"]) == (t.source_tokens, t.tokens)
        if not t.tokens:
            assert (r["alpha"], r["links"]) == (None, "")
            continue
        assert np.array_equal(np.array(r["alpha"]), t.attention.round(4))
        links = [tuple(map(int, x.split("-"))) for x in r["links"].split()]
        argmax = t.attention[: len(t.tokens), : len(t.source_tokens)].argmax(axis=1)
        assert links == [(int(j), i) for i, j in enumerate(argmax)]  # source-target, per word


def test_rnnencdec_alignments_have_no_alpha_and_no_links(roots) -> None:
    root = roots["rnnencdec_30"]
    align = root / "encdec.align.jsonl"
    lines, _ = _run(root, "rnnencdec_30", f"input={_input(root, LINES[:1])}",
                    f"alignments={align}")
    [record] = [json.loads(line) for line in align.read_text(encoding="utf-8").splitlines()]
    assert record["target"] and lines == [translator(root, "rnnencdec_30").translate(
        LINES[:1], beam_size=3)[0].text]
    assert (record["alpha"], record["links"]) == (None, "")


def test_bad_input_is_refused_naming_stdin_or_the_file_and_the_line(roots, monkeypatch) -> None:
    root = roots["rnnsearch_30"]
    path = root / "bad.en"
    path.write_bytes(b"the cat\n\xff\xfe bad\n")
    with pytest.raises(ValueError, match=rf"^{path}: line 2 is not valid UTF-8 \("):
        _run(root, "rnnsearch_30", f"input={path}")
    with pytest.raises(ValueError, match=r"^stdin: line 2 is not valid UTF-8 \("):
        _run(root, "rnnsearch_30", "input=-", stdin=b"the cat\n\xff\xfe bad\n",
             monkeypatch=monkeypatch)
    long = "the cat\n" + "the " * 5 + "cat\n"
    with pytest.raises(ValueError, match=r"^stdin: line 2 has 6 tokens, over "
                                         r"decode.max_input_tokens=5$"):
        _run(root, "rnnsearch_30", "input=-", "decode.max_input_tokens=5",
             stdin=long.encode(), monkeypatch=monkeypatch)
    with pytest.raises(ValueError, match=rf"^{_input(root, long.splitlines())}: line 2 has 6"):
        _run(root, "rnnsearch_30", f"input={_input(root, long.splitlines())}",
             "decode.max_input_tokens=5")


@pytest.mark.parametrize(("accelerator", "cuda", "device"), [
    ("auto", True, "cuda"), ("gpu", True, "cuda"), ("cuda", True, "cuda"), ("cpu", True, "cpu"),
    ("auto", False, "cpu")])
def test_the_model_is_loaded_on_the_gpu_when_one_is_there_and_allowed(
        roots, monkeypatch, accelerator: str, cuda: bool, device: str) -> None:
    root = roots["rnnsearch_30"]
    seen = []

    def from_dir(model_dir, device="cpu", checkpoint="best.ckpt", settings=None):
        seen.append((str(model_dir), str(device), settings.beam_size))
        raise RuntimeError("stop after loading")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(Translator, "from_dir", from_dir)
    with pytest.raises(RuntimeError, match="stop after loading"):
        _run(root, "rnnsearch_30", f"input={_input(root, LINES)}",
             f"trainer.accelerator={accelerator}")
    assert seen == [(str(root / "artifacts/models/rnnsearch_30"), device, 3)]


@pytest.mark.parametrize("option", ["ignore_unk", "replace_unk"])
def test_the_unk_options_reach_the_translations(roots, option: str) -> None:
    root = roots["rnnsearch_30"]
    tr = translator(root, "rnnsearch_30")
    plain = [t.text for t in tr.translate(LINES, beam_size=3)]
    api = [t.text for t in tr.translate(LINES, beam_size=3, **{option: True})]
    assert any("[UNK]" in text for text in plain) and not any("[UNK]" in text for text in api)
    lines, _ = _run(root, "rnnsearch_30", f"input={_input(root, LINES)}", f"decode.{option}=true")
    assert lines == api


def test_heat_maps_go_to_a_new_nested_or_an_existing_directory(roots) -> None:
    root = roots["rnnsearch_30"]
    figures = root / "figures" / "run"  # neither exists yet
    for _ in range(2):  # the second run writes into the existing directory
        _run(root, "rnnsearch_30", f"input={_input(root, LINES)}", f"heatmaps={figures}")
        assert sorted(p.name for p in figures.iterdir()) == [
            "alignment_00000.png", "alignment_00002.png", "alignment_00003.png"]  # 1 is empty
