"""Fuzzing the readers and `prepare`: arbitrary input may only raise the documented errors."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import DictConfig

from rnnsearch import prepare
from rnnsearch.data.parallel_files import DataError, load_split, read_parallel, save_split
from rnnsearch.data.sgml import read_sgml
from rnnsearch.data.vocab import Vocabulary

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
lines_bytes = st.lists(st.binary(max_size=40), max_size=8).map(b"\n".join)
sentence = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
sgml_like = st.lists(st.sampled_from(['<srcset setid="x">', "</srcset>", '<doc docid="d">',
                                      "</doc>", '<seg id="1">a</seg>', '<seg id="2">b</seg>',
                                      "<p>", "</p>", "text", "<seg>", ""]), max_size=10)


@FUZZ
@given(src=lines_bytes, tgt=lines_bytes, gz=st.booleans())
def test_read_parallel_raises_only_data_errors(tmp_path: Path, src: bytes, tgt: bytes,
                                               gz: bool) -> None:
    a, b = tmp_path / ("a.en.gz" if gz else "a.en"), tmp_path / "a.fr"
    a.write_bytes(gzip.compress(src) if gz else src)
    b.write_bytes(tgt)
    try:
        out_src, out_tgt = read_parallel(a, b)
    except DataError as err:
        assert "\n" not in str(err)
    else:
        assert len(out_src) == len(out_tgt)


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), sgml_like.map(lambda ls: "\n".join(ls).encode())))
def test_read_sgml_raises_only_data_errors(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "x.sgm").write_bytes(data)
    try:
        segments = read_sgml(tmp_path / "x.sgm")
    except DataError as err:
        assert str(err).startswith(str(tmp_path / "x.sgm")) and "\n" not in str(err)
    else:
        assert segments


@FUZZ
@given(data=st.binary(max_size=200))
def test_vocab_and_id_array_loading_raise_only_value_errors(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "v.txt").write_bytes(b"<pad>\n<s>\n</s>\n[UNK]\n" + data)
    try:
        Vocabulary.load(tmp_path / "v.txt")
    except ValueError as err:
        assert "v.txt:" in str(err) and "\n" not in str(err)
    save_split(tmp_path, "dev", [[4, 5]], [[6]])
    for name in ("dev.src.ids.npy", "dev.tgt.offsets.npy"):
        good = (tmp_path / name).read_bytes()
        for bad in (data, good[:128] + data):  # garbage; a valid header over garbage
            (tmp_path / name).write_bytes(bad)
            try:
                load_split(tmp_path, "dev")
            except DataError as err:
                assert name in str(err) and "\n" not in str(err)
        (tmp_path / name).write_bytes(good)


@pytest.fixture
def fuzz_cfg(tiny_cfg: Callable[..., DictConfig]) -> DictConfig:
    return tiny_cfg("data.prepare_max_len=8", "data.stats_report=null")


@FUZZ
@given(pairs=st.lists(st.tuples(sentence, sentence), min_size=1, max_size=12))
def test_prepare_on_random_parallel_text(fuzz_cfg: DictConfig, write_raw: Callable,
                                         pairs: list) -> None:
    cfg = fuzz_cfg
    src = "\n".join(s.replace("\n", " ") for s, _ in pairs) + "\n"
    tgt = "\n".join(t.replace("\n", " ") for _, t in pairs) + "\n"
    write_raw(Path(cfg.data.raw_dir), {f"{split}.{lang}": text for split in ("train", "dev", "test")
                                       for lang, text in (("en", src), ("fr", tgt))})
    try:
        stats = prepare.run(cfg)
    except DataError as err:
        assert "empty corpus" in str(err) or "lines but" in str(err), err
        return
    out = Path(cfg.data.prepared_dir)
    test = load_split(out, "test")
    tok = (out / "test.en.tok").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(test) == len(tok) == stats["test"]["pairs"]
    assert all(len(t.split()) == len(ids) for t, ids in zip(tok, test.src, strict=True))
    assert all(1 <= len(ids) <= 8 for ids in load_split(out, "train").tgt)
