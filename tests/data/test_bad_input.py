"""Bad input gives one-line errors naming the file (and line); empty lines are counted."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from rnnsearch import prepare
from rnnsearch.data.parallel_files import (
    DataError,
    iter_lines,
    load_split,
    read_lines,
    read_parallel,
    save_split,
)
from rnnsearch.data.sgml import parse_sgml, read_sgml_pair
from rnnsearch.data.tokenized_pairs import encode_all
from rnnsearch.data.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocabulary

GOOD = "Hello world .\nA cat .\nThe dog runs .\n"
GOOD_FR = "Bonjour le monde .\nUn chat .\nLe chien court .\n"
SGML = ('<srcset setid="t" srclang="any">\n<doc docid="d1" genre="news">\n<p>\n'
        '<seg id="1">{a}</seg>\n<seg id="2">{b}</seg>\n</p>\n</doc>\n</srcset>\n')


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_line_count_mismatch_names_both_files(tmp_path: Path, write_raw: Callable) -> None:
    write_raw(tmp_path, {"a.en": GOOD, "a.fr": "x\n"})
    with pytest.raises(DataError) as err:
        read_parallel(tmp_path / "a.en", tmp_path / "a.fr")
    assert "a.en has 3 lines" in _one_line(err) and "a.fr has 1" in _one_line(err)


def test_invalid_utf8_names_line(tmp_path: Path, write_raw: Callable) -> None:
    write_raw(tmp_path, {"a.en": b"ok\nfine\nbad \xc3\x28 byte\n", "a.fr": GOOD_FR})
    with pytest.raises(DataError, match=r"a\.en:3: invalid UTF-8") as err:
        read_parallel(tmp_path / "a.en", tmp_path / "a.fr")
    _one_line(err)


def test_corrupt_gzip_is_a_data_error(tmp_path: Path, write_raw: Callable) -> None:
    write_raw(tmp_path, {"a.en.gz": b"\x1f\x8b\x08\x00garbage", "a.fr": GOOD_FR})
    with pytest.raises(DataError, match=r"a\.en\.gz:1: corrupt gzip"):
        read_parallel(tmp_path / "a.en.gz", tmp_path / "a.fr")


@pytest.mark.parametrize(
    ("text", "where"),
    [('<seg id="1">x</seg>\n', ":1: malformed SGML: <seg> outside <doc>"),
     (SGML.replace("</doc>\n", ""), ":7: malformed SGML: set closed"),
     (SGML.replace("</srcset>\n", ""), ":7: malformed SGML: unclosed"),
     (SGML.replace("<p>", "stray text"), ":3: malformed SGML: unexpected"),
     (SGML.replace('<seg id="1">{a}</seg>', '<seg id="1">{a}'), ":4: malformed SGML: unexpected"),
     (SGML.replace('id="2"', 'id="1"'), ":5: malformed SGML: duplicate seg id"),
     ('<srcset>\n<doc docid="x">\n</doc>\n</srcset>\n', ": malformed SGML: no <seg>")],
)
def test_malformed_sgml_names_file_and_line(text: str, where: str) -> None:
    with pytest.raises(DataError) as err:
        parse_sgml(text.format(a="A", b="B"), "x.sgm")
    assert where in _one_line(err) and _one_line(err).startswith("x.sgm")


def test_sgml_pair_must_share_segment_ids(tmp_path: Path, write_raw: Callable) -> None:
    write_raw(tmp_path, {"s.sgm": SGML.format(a="A", b="B"),
                         "r.sgm": SGML.format(a="a", b="b").replace('docid="d1"', 'docid="d2"')})
    with pytest.raises(DataError, match=r"segment 1 is d1/1 .* d2/1"):
        read_sgml_pair(tmp_path / "s.sgm", tmp_path / "r.sgm")


def test_sgml_text_is_kept_verbatim() -> None:
    segs = parse_sgml(SGML.format(a='Say "hi" & <go>', b="B"), "x.sgm")
    assert [s.text for s in segs] == ['Say "hi" & <go>', "B"]


def _raw_corpus(cfg: DictConfig, write_raw: Callable, **files: str | bytes) -> None:
    base = {"train.en": GOOD * 5, "train.fr": GOOD_FR * 5, "dev.en": GOOD, "dev.fr": GOOD_FR,
            "test.en": GOOD, "test.fr": GOOD_FR}
    base.update({k.replace("_", "."): v for k, v in files.items()})
    write_raw(Path(cfg.data.raw_dir), base)


def test_empty_lines_are_dropped_and_counted(tiny_cfg: Callable, write_raw: Callable) -> None:
    cfg = tiny_cfg()
    _raw_corpus(cfg, write_raw, dev_en="A .\n\n  \t\nB .\n", dev_fr="a .\nx .\ny .\n \n")
    stats = prepare.run(cfg)
    assert stats["dev"]["pairs"] == 1 and stats["dev"]["dropped_empty"] == 3
    assert len(load_split(cfg.data.prepared_dir, "dev")) == 1


def test_empty_corpus_is_an_error(tiny_cfg: Callable, write_raw: Callable) -> None:
    cfg = tiny_cfg()
    _raw_corpus(cfg, write_raw, train_en="\n \n", train_fr="x\n\n")
    with pytest.raises(DataError, match=r"train\.en: empty corpus") as err:
        prepare.run(cfg)
    _one_line(err)
    assert not (Path(cfg.data.prepared_dir) / "stats.json").exists()


def test_prepare_reports_misaligned_split(tiny_cfg: Callable, write_raw: Callable) -> None:
    cfg = tiny_cfg()
    _raw_corpus(cfg, write_raw, test_fr="only one line\n")
    with pytest.raises(DataError, match=r"test\.en has 3 lines but .*test\.fr has 1"):
        prepare.run(cfg)


def test_sgml_and_plain_cannot_be_mixed(tiny_cfg: Callable, write_raw: Callable) -> None:
    cfg = tiny_cfg()
    _raw_corpus(cfg, write_raw)
    raw = Path(cfg.data.raw_dir)
    (raw / "test.fr").rename(raw / "test.fr.sgm")
    with pytest.raises(DataError, match="cannot pair SGML with plain text"):
        prepare.run(cfg)


def test_corrupt_prepared_split_is_a_data_error(tmp_path: Path) -> None:
    save_split(tmp_path, "dev", [[4, 5]], [[6]])
    assert len(load_split(tmp_path, "dev")) == 1
    save_split(tmp_path, "test", [[4, 5]], [[6]])
    (tmp_path / "test.tgt.ids.npy").write_bytes(b"not an array")
    with pytest.raises(DataError, match=r"test\.tgt\.ids\.npy: unreadable prepared split"):
        load_split(tmp_path, "test")


def test_empty_dev_set_says_so_without_a_length_filter(tiny_cfg: Callable,
                                                       write_raw: Callable) -> None:
    cfg = tiny_cfg()
    _raw_corpus(cfg, write_raw, dev_en="\n \n", dev_fr="x\n\n")
    with pytest.raises(DataError) as err:
        prepare.run(cfg)
    line = _one_line(err)
    assert line.startswith(str(Path(cfg.data.raw_dir) / "dev.en") + ": empty corpus")
    assert "non-empty" in line and "tokens" not in line  # dev is not length-filtered
    assert not (Path(cfg.data.prepared_dir) / "stats.json").exists()


def test_byte_order_mark_is_not_a_token(tiny_cfg: Callable, write_raw: Callable) -> None:
    """A BOM at the start of a plain or gzipped file is dropped, not tokenized into line 1."""
    cfg = tiny_cfg()
    bom = "\ufeff".encode()
    _raw_corpus(cfg, write_raw, test_en=bom + GOOD.encode(), test_fr=bom + GOOD_FR.encode())
    prepare.run(cfg)
    prepared = Path(cfg.data.prepared_dir)
    for lang, text in (("en", GOOD), ("fr", GOOD_FR)):
        first = (prepared / f"test.{lang}.tok").read_text(encoding="utf-8").splitlines()[0]
        assert first == text.splitlines()[0]
        assert "\ufeff" not in (prepared / f"test.{lang}.raw").read_text(encoding="utf-8")
    gz = Path(cfg.data.raw_dir) / "x.en.gz"
    gz.write_bytes(gzip.compress(bom + GOOD.encode()))
    assert list(iter_lines(gz))[0] == read_lines(gz)[0] == GOOD.splitlines()[0]


def test_literal_specials_in_text_map_to_unk(tiny_cfg: Callable, write_raw: Callable) -> None:
    """`<s>`, `</s>` and `<pad>` written in a sentence never become BOS/EOS/PAD ids."""
    vocab = Vocabulary([*SPECIALS, "cat"])
    assert encode_all(vocab, [["<s>", "cat", "</s>", "<pad>", "[UNK]"]]) == [
        [UNK_ID, vocab.encode(["cat"])[0], UNK_ID, UNK_ID, UNK_ID]]
    cfg = tiny_cfg()
    _raw_corpus(cfg, write_raw, test_en="A <s> cat </s> .\n" + GOOD, test_fr="<s>\n" + GOOD_FR)
    prepare.run(cfg)
    test = load_split(cfg.data.prepared_dir, "test")
    for ids in [*test.src, *test.tgt]:
        assert not set(ids.tolist()) & {PAD_ID, BOS_ID, EOS_ID}
