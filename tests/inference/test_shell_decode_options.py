"""What a user of `python -m rnnsearch.translate input=...` reads under each decode option, with
the tiny model of conftest.py: `decode.ignore_unk` at its default, `decode.replace_unk=true`, the
lines of `decode.n_best=k`, and a byte-order mark before the input (a file, or stdin).

The shell runs in this process (`translate.run`, the entry point's `run`), with its output and
alignments written to files as a user would ask for them.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tests.inference.tiny_model import cfg_for, raw_test

from rnnsearch import Translator, translate
from rnnsearch.data.moses import detokenize_lines

UNK = "[UNK]"


class Shell:
    """Runs the translate shell on some input, from a file or from stdin."""

    def __init__(self, trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.trained, self.tmp_path, self.monkeypatch, self.runs = trained, tmp_path, monkeypatch, 0

    def __call__(self, data: bytes, *overrides: str, stdin: bool = False
                 ) -> tuple[list[str], list[dict]]:
        """The output lines and the alignment records (one per input) of one run."""
        self.runs += 1
        src, out = self.tmp_path / f"in{self.runs}.en", self.tmp_path / f"out{self.runs}.fr"
        align = self.tmp_path / f"align{self.runs}.jsonl"
        src.write_bytes(data)
        if stdin:
            self.monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(data)))
        translate.run(cfg_for(self.trained, f"input={'-' if stdin else src}", f"output={out}",
                              f"alignments={align}", *overrides))
        records = [json.loads(x) for x in align.read_text(encoding="utf-8").splitlines()]
        return out.read_text(encoding="utf-8").splitlines(), records


@pytest.fixture
def shell(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shell:
    return Shell(trained, tmp_path, monkeypatch)


def _test_lines(trained: Path, n: int) -> list[str]:
    return raw_test(trained).read_text(encoding="utf-8").splitlines()[:n]


def _encoded(lines: list[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def test_a_byte_order_mark_before_the_input_is_not_translated(trained: Path, shell: Shell) -> None:
    data = _encoded(["Whuglalang", *_test_lines(trained, 2)])
    plain, plain_records = shell(data)
    for stdin in (False, True):
        out, records = shell(b"\xef\xbb\xbf" + data, stdin=stdin)
        assert records[0]["source"] == plain_records[0]["source"] == ["Whuglalang"]
        assert out == plain


def test_by_default_the_shell_never_emits_unk(trained: Path, shell: Shell) -> None:
    data = _encoded(_test_lines(trained, 6))
    allowed, _ = shell(data, "decode.ignore_unk=false")
    assert any(UNK in line for line in allowed)  # the model would emit [UNK] here ...
    default, records = shell(data)  # ... but decode.ignore_unk is true unless set
    assert not any(UNK in line for line in default)
    assert not any(UNK in r["target"] for r in records)


def test_replace_unk_puts_the_most_attended_source_word_in_place(trained: Path, model_dir: Path,
                                                                 shell: Shell) -> None:
    lines = _test_lines(trained, 6)
    allow = "decode.ignore_unk=false"  # with the default, no [UNK] is left to replace
    _, kept = shell(_encoded(lines), allow)
    out, replaced = shell(_encoded(lines), allow, "decode.replace_unk=true")
    attention = [t.attention for t in Translator.from_dir(model_dir).translate(
        lines, ignore_unk=False)]  # alpha unrounded: the JSON lines round it to 4 places
    n_unk = 0
    for before, after, alpha, text in zip(kept, replaced, attention, out, strict=True):
        source = before["source"]
        expected = [source[int(np.argmax(alpha[i, : len(source)]))] if token == UNK else token
                    for i, token in enumerate(before["target"])]
        assert after["target"] == expected
        assert text == detokenize_lines([" ".join(expected)], "fr")[0]
        n_unk += before["target"].count(UNK)
    assert n_unk > 0 and not any(UNK in text for text in out)


def test_n_best_lines_come_best_first_with_their_log_p(trained: Path, model_dir: Path,
                                                       shell: Shell) -> None:
    lines = _test_lines(trained, 4)
    best, _ = shell(_encoded(lines))
    out, _ = shell(_encoded(lines), "decode.n_best=3")
    rows = [line.split("\t") for line in out]
    assert [int(index) for index, _, _ in rows] == [i for i in range(4) for _ in range(3)]
    api = Translator.from_dir(model_dir).translate(lines, n_best=3)  # scores checked against
    for i, t in enumerate(api):                    # forced decoding in test_translate_text.py
        texts = [text for _, text, _ in rows[3 * i: 3 * i + 3]]
        scores = [float(score) for _, _, score in rows[3 * i: 3 * i + 3]]
        assert texts[0] == best[i]
        assert texts == [h.text for h in t.alternatives]
        assert scores == pytest.approx([h.score for h in t.alternatives], abs=5e-5)
        assert scores[0] > scores[1] > scores[2]  # best first
