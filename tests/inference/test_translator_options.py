"""The Python API's options do what they say: beam size, n-best, ignore_unk and replace_unk.

On a hand-made model directory (tests/inference/handmade.py) whose translations are full of
[UNK], so both [UNK] options have something to change. test_translate_text.py checks the same
API on a trained model (n-best scores against the model, the shell against the API).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.inference.handmade import LINES, model_dirs, translator

from rnnsearch.data.vocab import UNK
from rnnsearch.inference.model_dir import TokenizerSettings
from rnnsearch.inference.translator import Translator, replace_unknowns


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_dirs(tmp_path_factory)["rnnsearch_30"]


def test_replace_unk_puts_the_most_attended_source_word_in_each_unk(root: Path) -> None:
    tr = translator(root, "rnnsearch_30")
    kept = tr.translate(LINES, beam_size=3, n_best=2)
    replaced = tr.translate(LINES, beam_size=3, n_best=2, replace_unk=True)
    n_unk = 0
    for t, r in zip(kept, replaced, strict=True):
        for h, g in zip(t.alternatives, r.alternatives, strict=True):
            assert (g.score, len(g.tokens)) == (h.score, len(h.tokens))  # the same hypotheses
            for i, tok in enumerate(h.tokens):
                attended = h.source_tokens[int(h.attention[i, : len(h.source_tokens)].argmax())]
                assert g.tokens[i] == (attended if tok == UNK else tok)
                n_unk += tok == UNK
            assert UNK not in g.tokens and UNK not in g.text
    assert n_unk >= 5  # the check above had [UNK]s to replace


def test_ignore_unk_forbids_unk(root: Path) -> None:
    tr = translator(root, "rnnsearch_30")
    allowed = tr.translate(LINES, beam_size=3, n_best=3, ignore_unk=False)
    forbidden = tr.translate(LINES, beam_size=3, n_best=3, ignore_unk=True)
    assert sum(UNK in h.tokens for t in allowed for h in t.alternatives) >= 3
    assert not any(UNK in h.tokens for t in forbidden for h in t.alternatives)
    assert [len(t.alternatives) for t in forbidden] == [3, 0, 3, 3]


def test_beam_size_is_the_one_asked_for(root: Path) -> None:
    tr = translator(root, "rnnsearch_30")
    assert tr.settings.beam_size == 3  # the model directory's decode.beam_size
    wide = tr.translate(LINES, beam_size=6, n_best=6)  # more alternatives than its beam
    assert [len(t.alternatives) for t in wide] == [6, 0, 6, 6]
    greedy = tr.translate(LINES, beam_size=1)
    assert [len(t.alternatives) for t in greedy] == [1, 0, 1, 1]
    assert [t.text for t in tr.translate(LINES)] == [t.text for t in tr.translate(LINES, 3)]
    with pytest.raises(ValueError, match="n_best in 1..beam_size"):
        tr.translate(LINES, beam_size=2, n_best=3)


def test_an_empty_input_has_an_empty_translation_of_log_p_0(root: Path) -> None:
    [empty] = translator(root, "rnnsearch_30").translate([""], n_best=2)
    assert (empty.text, empty.tokens, empty.score, empty.attention, empty.alternatives) == \
        ("", [], 0.0, None, [])


@pytest.mark.parametrize("lowercase", [False, True])
def test_tokenize_keeps_case_unless_the_model_was_trained_lowercased(root: Path,
                                                                     lowercase: bool) -> None:
    tr = translator(root, "rnnsearch_30")
    tr.tokenizer = TokenizerSettings("en", "fr", lowercase=lowercase)
    tokens = tr.tokenize("The House isn't small.")
    expected = ["The", "House", "isn", "'t", "small", "."]
    assert tokens == ([t.lower() for t in expected] if lowercase else expected)


def test_replace_unknowns_without_attention_or_source_keeps_the_tokens() -> None:
    alpha = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert replace_unknowns([UNK, "x"], ["a", "b"], None) == [UNK, "x"]  # RNNencdec
    assert replace_unknowns([UNK, "x"], [], alpha) == [UNK, "x"]
    assert replace_unknowns([UNK, UNK], ["a", "b"], alpha) == ["b", "a"]


def test_add_model_files_makes_an_old_model_dir_translate(root: Path, tmp_path: Path) -> None:
    import shutil

    from rnnsearch.inference.model_dir import add_model_files

    old = tmp_path / "old"
    shutil.copytree(root / "artifacts" / "models" / "rnnsearch_30", old)
    for name in ("vocab.en.txt", "vocab.fr.txt", "tokenizer.json"):
        (old / name).unlink()  # a model directory from before they were written
    add_model_files(old, root / "prepared")
    for lang in ("en", "fr"):
        assert (old / f"vocab.{lang}.txt").read_bytes() == \
            (root / "prepared" / f"vocab.{lang}.txt").read_bytes()
    new = Translator.from_dir(old).translate(LINES[:1])[0]
    assert new.tokens == translator(root, "rnnsearch_30").translate(LINES[:1])[0].tokens


def test_a_directory_without_config_yaml_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as err:
        Translator.from_dir(tmp_path)
    assert str(err.value) == (f"{tmp_path / 'config.yaml'} not found: not a model directory "
                              "(train one with `python -m rnnsearch.train experiment=<id>`)")


def test_vocabularies_that_do_not_fit_the_checkpoint_are_named(root: Path, tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(root / "artifacts" / "models" / "rnnsearch_30", other)
    with open(other / "vocab.en.txt", "a", encoding="utf-8") as fh:
        fh.write("extra\n")  # one source word more than the checkpoint's embedding has
    with pytest.raises(ValueError) as err:
        Translator.from_dir(other)
    assert f"built from {other / 'vocab.en.txt'} and {other / 'vocab.fr.txt'}" in str(err.value)
