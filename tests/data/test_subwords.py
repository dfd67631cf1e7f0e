"""Subword units (`data.units=bpe`, data/subwords.py): exact round trips, piece vocabularies,
prepare's subword path, and one-line errors for a missing or mismatched sentencepiece model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig
from tests.data.test_parallel_text import TINY, write_corpus

from rnnsearch import prepare
from rnnsearch.config_checks import check_config
from rnnsearch.data.guards import check_prepared_settings
from rnnsearch.data.parallel_files import load_split
from rnnsearch.data.subwords import (
    ESCAPE,
    MARKER,
    SubwordModel,
    desegment,
    load_models,
    model_name,
    train_model,
)
from rnnsearch.data.tokenized_pairs import encode_all
from rnnsearch.data.vocab import UNK, UNK_ID, Vocabulary

# Moses tokens (escape=False) a user's text can hold: non-ASCII, an apostrophe token, an escaped
# entity left in the text, sentencepiece's own marker inside and alone, the escape character
TRICKY = [["l'", "été", "dernier", ",", "Ärger", "&apos;s", "日本語", "🙂"],
          ["a" + MARKER + "b", MARKER, MARKER + MARKER + "x", "_", ESCAPE, ESCAPE + "_",
           "y" + ESCAPE + MARKER, "&amp;", "&#124;", "<s>", "[UNK]", "</s>"],
          ["single"]]
TRAIN = ["the cat sat on the mat .", "l' été dernier , le chat était là .",
         "a" + MARKER + "b and the " + MARKER + " marker", "Ärger &apos;s über 日本語 🙂"] * 20


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> SubwordModel:
    path = tmp_path_factory.mktemp("spm") / "spm.en.model"
    train_model(TRAIN, 60, path)
    return SubwordModel(path)


@pytest.mark.parametrize("words", [*TRICKY, [], ["unseen", "Wörterbuch", "zebra"]])
def test_desegment_of_segment_is_the_words_exactly(model: SubwordModel,
                                                   words: list[str]) -> None:
    pieces = model.segment(words)
    assert desegment(pieces) == words
    assert model.segment_many([words, words]) == [pieces, pieces]
    assert all(p and not any(ch.isspace() for ch in p) for p in pieces)  # vocabulary-safe


def test_marker_inside_a_word_needs_the_escape(model: SubwordModel) -> None:
    """Sentencepiece alone reads a "▁" inside a word as a word boundary: without the escape the
    round trip above would split "a▁b" into two words."""
    plain = model._sp.encode("a" + MARKER + "b", out_type=str)
    assert desegment(plain) == ["a", "b"]
    assert desegment(model.segment(["a" + MARKER + "b"])) == ["a" + MARKER + "b"]


def test_output_pieces_the_segmenter_never_gives_still_make_words() -> None:
    assert desegment(["▁the", "[UNK]", "s", "▁ca", "t", "▁", "▁."]) == ["the", UNK, "s", "cat", "."]
    assert desegment(["at", "▁end"]) == ["at", "end"]  # a first piece without the marker


def test_piece_vocabulary_has_our_specials_and_no_spelled_special(model: SubwordModel) -> None:
    vocab = model.vocabulary()
    assert vocab.tokens[:4] == ["<pad>", "<s>", "</s>", UNK]
    assert "<unk>" not in vocab.tokens[4:] and len(vocab) <= 60 + 3
    ids = encode_all(vocab, [model.segment(["tame", "heats", "étés"])])[0]
    assert UNK_ID not in ids  # every character seen in training: no [UNK] for an unseen word


def test_missing_and_mismatched_models_are_one_line_naming_the_file(
        model: SubwordModel, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as err:
        SubwordModel(tmp_path / "spm.de.model")
    assert str(tmp_path / "spm.de.model") in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "bad.model").write_bytes(b"not a model")
    with pytest.raises(ValueError) as err:
        SubwordModel(tmp_path / "bad.model")
    assert str(tmp_path / "bad.model") in str(err.value) and "\n" not in str(err.value)
    other = Vocabulary([*model.vocabulary().tokens[:-1]])
    with pytest.raises(ValueError) as err:
        model.check_vocabulary(other, tmp_path / "vocab.en.txt")
    msg = str(err.value)
    assert str(model.path) in msg and str(tmp_path / "vocab.en.txt") in msg and "\n" not in msg


@pytest.fixture
def bpe_cfg(compose_cfg: Callable[..., DictConfig], tmp_path: Path) -> Callable[..., DictConfig]:
    write_corpus(tmp_path / "corpus")

    def _make(*overrides: str) -> DictConfig:
        return compose_cfg(*TINY, f"data.raw_dir={tmp_path / 'corpus'}", *overrides)

    return _make


def test_prepare_with_bpe_writes_models_piece_vocabularies_and_word_text(
        bpe_cfg: Callable[..., DictConfig]) -> None:
    cfg = bpe_cfg("data.units=bpe", "data.subword_vocab_size=60")
    stats = prepare.run(cfg)
    out = Path(cfg.data.prepared_dir)
    models = load_models(out, ("de", "en"), (Vocabulary.load(out / "vocab.de.txt"),
                                             Vocabulary.load(out / "vocab.en.txt")),
                         (out / "vocab.de.txt", out / "vocab.en.txt"))
    assert stats["units"] == "bpe" and stats["subwords"]["en"]["pieces_per_word"] > 1
    assert stats["train"]["pairs"] == 80 and stats["train"]["de"]["unk_tokens"] == 0
    words = (out / "test.de.tok").read_text(encoding="utf-8").splitlines()
    assert MARKER not in "".join(words)  # the .tok text stays words
    test = load_split(out, "test")
    vocab = Vocabulary.load(out / "vocab.de.txt")
    for line, ids in zip(words, test.src, strict=True):
        assert desegment(vocab.decode(ids)) == line.split()  # ids are its pieces
    assert stats["test"]["de"]["tokens"] == sum(map(len, test.src)) > sum(map(len, map(
        str.split, words)))
    unseen = models[0].segment(["Hunde", "Katzenhaus", "Baumkind"])  # not in the corpus
    assert UNK_ID not in encode_all(vocab, [unseen])[0]
    with pytest.raises(ValueError, match="data.units=bpe"):  # word training refuses it
        check_prepared_settings(bpe_cfg())
    stats = prepare.run(bpe_cfg())  # words again: no stale model, stats as before subwords
    assert not (out / model_name("de")).exists() and "units" not in stats
    assert "subwords" not in json.loads((out / "stats.json").read_text())


def test_gold_word_alignments_are_refused_with_subwords(
        compose_cfg: Callable[..., DictConfig]) -> None:
    cfg = compose_cfg("data.units=bpe", "data.test_alignment=test.align")
    with pytest.raises(ValueError, match="data.test_alignment needs data.units=word"):
        check_config(cfg)
    check_config(compose_cfg("data.test_alignment=test.align"))  # words: AER as before


def test_the_same_text_gives_the_same_model_bytes(model: SubwordModel, tmp_path: Path) -> None:
    train_model(TRAIN, 60, tmp_path / "again.model")
    assert (tmp_path / "again.model").read_bytes() == model.path.read_bytes()
    assert not list(tmp_path.glob(".*tmp*"))  # written through a temporary file, renamed
