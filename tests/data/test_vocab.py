"""Vocabulary: shortlist construction, [UNK] mapping, round trips and malformed files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rnnsearch.data.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK, UNK_ID, Vocabulary


def test_specials_have_fixed_ids() -> None:
    vocab = Vocabulary.build(Counter(), 10)
    assert vocab.tokens == list(SPECIALS)
    assert [vocab.token_to_id(t) for t in SPECIALS] == [PAD_ID, BOS_ID, EOS_ID, UNK_ID]


def test_shortlist_keeps_most_frequent_with_deterministic_ties() -> None:
    counts = Counter({"c": 5, "a": 3, "b": 3, "d": 1, "e": 1})
    vocab = Vocabulary.build(counts, 4 + 3)  # size counts the four specials
    assert vocab.tokens[4:] == ["c", "a", "b"]  # tie a/b broken by the string
    shuffled = Counter(dict(reversed(list(counts.items()))))
    assert Vocabulary.build(shuffled, 7) == vocab


def test_encode_maps_out_of_shortlist_to_unk() -> None:
    vocab = Vocabulary.build(Counter("a a a b b c".split()), 6)
    assert vocab.encode(["a", "b", "c", "zzz"]) == [4, 5, UNK_ID, UNK_ID]
    assert len(vocab) == 6
    assert vocab.id_to_token(4) == "a"


def test_decode_stops_at_eos_and_keeps_unk() -> None:
    vocab = Vocabulary.build(Counter("x y".split()), 10)
    ids = [BOS_ID, vocab.token_to_id("x"), UNK_ID, PAD_ID, vocab.token_to_id("y"), EOS_ID, 4]
    assert vocab.decode(ids) == ["x", UNK, "y"]
    assert vocab.decode([BOS_ID, EOS_ID], strip_special=False) == ["<s>", "</s>"]


def test_save_load_round_trip(tmp_path: Path) -> None:
    vocab = Vocabulary.build(Counter({"é": 3, "l'": 2, "«": 1}), 30)
    vocab.save(tmp_path / "v.txt")
    loaded = Vocabulary.load(tmp_path / "v.txt")
    assert loaded == vocab
    assert loaded.encode(["é", "l'", "?"]) == vocab.encode(["é", "l'", "?"])
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file


@pytest.mark.parametrize(
    ("text", "line"),
    [("<pad>\n<s>\n</s>\nfoo\n", 4), ("<s>\n<pad>\n</s>\n[UNK]\n", 1),
     ("<pad>\n<s>\n</s>\n[UNK]\na\nb\na\n", 7), ("<pad>\n<s>\n", 3),
     ("<pad>\n<s>\n</s>\n[UNK]\n\n", 5), ("<pad>\n<s>\n</s>\n[UNK]\na b\n", 5)],
)
def test_malformed_vocab_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "vocab.en.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"vocab\.en\.txt:{line}:") as info:
        Vocabulary.load(path)
    assert "\n" not in str(info.value)


def test_vocab_invalid_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(b"<pad>\n<s>\n</s>\n[UNK]\n\xff\n")
    with pytest.raises(ValueError, match=r"v\.txt:5: .*UTF-8"):
        Vocabulary.load(path)


def test_tokens_with_whitespace_are_rejected() -> None:
    with pytest.raises(ValueError, match="whitespace"):
        Vocabulary.build(Counter({"a b": 3}), 10)
