"""Safe download and unpacking, and the cross-entropy-difference selection, in isolation."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import tarfile
from pathlib import Path

import numpy as np
import pytest
from sacremoses import MosesTokenizer

from rnnsearch.corpora.wmt14.download import Archive, Pins, fetch, fetch_any
from rnnsearch.corpora.wmt14.selection import BigramLM, score_pool, select_by_budget
from rnnsearch.corpora.wmt14.unpack import unpack, unpack_record
from rnnsearch.data.parallel_files import DataError
from rnnsearch.file_hash import file_sha256


def _tar(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            data = b"x" * info.size if info.isfile() else None
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "",
          size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, size if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    "member",
    [_info("../up.txt"), _info("/abs.txt"), _info("ok/../../up.txt"),
     _info("link", tarfile.SYMTYPE, "../../outside"), _info("link", tarfile.SYMTYPE, "/etc/passwd"),
     _info("hard", tarfile.LNKTYPE, "../outside"), _info("dev", tarfile.CHRTYPE)],
)
def test_unsafe_members_are_rejected(tmp_path: Path, member: tarfile.TarInfo) -> None:
    archive = _tar(tmp_path / "a.tgz", [_info("fine.txt"), member])
    target = tmp_path / "box" / "out"
    with pytest.raises(DataError, match=r"a\.tgz: unsafe archive member"):
        unpack(archive, target)
    assert not target.exists() and not list((tmp_path / "box").iterdir())
    assert not (tmp_path / "up.txt").exists() and not (tmp_path / "outside").exists()


def test_safe_tar_and_gz_unpack(tmp_path: Path) -> None:
    members = [_info("d/f.txt", size=3), _info("d/l", tarfile.SYMTYPE, "f.txt")]
    archive = _tar(tmp_path / "a.tgz", members)
    out = unpack(archive, tmp_path / "out")
    assert (out / "d" / "f.txt").read_bytes() == b"xxx" and (out / "d" / "l").is_symlink()
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(b"hello\n"))
    assert (unpack(tmp_path / "c.txt.gz", tmp_path / "c") / "c.txt").read_bytes() == b"hello\n"
    (tmp_path / "bad.zip").write_bytes(b"PK not really")
    with pytest.raises(DataError, match="not a tar or gzip archive"):
        unpack(tmp_path / "bad.zip", tmp_path / "bad")


def test_fetch_verifies_before_publishing(tmp_path: Path, http_dir: tuple[Path, str]) -> None:
    served, base = http_dir
    (served / "f.bin").write_bytes(b"payload")
    good = hashlib.sha256(b"payload").hexdigest()
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(f"{base}/f.bin", tmp_path / "dl" / "f.bin", "ab" * 32)
    assert not list((tmp_path / "dl").iterdir())  # the partial download was removed
    assert fetch(f"{base}/f.bin", tmp_path / "dl" / "f.bin", good) == good
    assert file_sha256(tmp_path / "dl" / "f.bin") == good
    (served / "f.bin").unlink()  # a verified file is not downloaded again
    assert fetch(f"{base}/f.bin", tmp_path / "dl" / "f.bin", good.upper()) == good


def test_fetch_checks_published_md5_and_size(tmp_path: Path, http_dir: tuple[Path, str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rnnsearch.corpora.wmt14.download")
    served, base = http_dir
    payload = b"dev archive bytes"
    (served / "dev.tgz").write_bytes(payload)
    md5, sha = hashlib.md5(payload).hexdigest(), hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "dl" / "dev.tgz"
    with pytest.raises(DataError, match=r"dev\.tgz: checksum mismatch: expected md5"):
        fetch(f"{base}/dev.tgz", dest, None, md5="0" * 32)
    with pytest.raises(DataError, match=rf"size mismatch: expected {len(payload) + 1} bytes"):
        fetch(f"{base}/dev.tgz", dest, None, md5=md5, size=len(payload) + 1)
    assert not list(dest.parent.iterdir())  # nothing published after a failed check
    # a published md5 verifies without allow_unpinned; the sha256 is logged (and recorded)
    assert fetch(f"{base}/dev.tgz", dest, None, md5=md5.upper(), size=len(payload)) == sha
    assert any(sha in r.getMessage() and "md5" in r.getMessage() for r in caplog.records)
    (served / "dev.tgz").unlink()  # a copy matching its md5 is not downloaded again
    assert fetch(f"{base}/dev.tgz", dest, None, md5=md5) == sha


def test_a_published_size_alone_admits_an_archive_and_its_recorded_sha256_holds(
        tmp_path: Path, http_dir: tuple[Path, str]) -> None:
    served, base = http_dir
    (served / "bitexts.tgz").write_bytes(b"the corpus")
    dest = tmp_path / "dl" / "bitexts.tgz"
    sha = fetch(f"{base}/bitexts.tgz", dest, None, size=10)  # no allow_unpinned needed
    assert sha == hashlib.sha256(b"the corpus").hexdigest()
    other = Archive("bitexts", (f"{base}/bitexts.tgz",), Pins(size=10, recorded="ab" * 32),
                    "conf/data/wmt14_lium.yaml", "data/wmt14_lium/corpus.json")
    (served / "bitexts.tgz").write_bytes(b"other text")  # same size, other bytes
    with pytest.raises(DataError) as err:
        fetch_any(dest, other)  # the copy on disk differs from the record: fetched, refused
    assert str(err.value) == (
        f"{base}/bitexts.tgz: sha256 {hashlib.sha256(b'other text').hexdigest()} differs from "
        f"{'ab' * 32}, recorded in data/wmt14_lium/corpus.json when this corpus was unpacked; "
        "a different archive: delete data/wmt14_lium and rerun to start afresh")
    assert dest.read_bytes() == b"the corpus"  # the refused download was not published


def test_no_answering_mirror_is_one_line_naming_the_local_copy_route(tmp_path: Path,
                                                                   http_dir: tuple) -> None:
    _, base = http_dir
    hint = 'make repro-wmt14 WMT14_ARGS="data.wmt14.local_dir=/path/to/archives"'
    archive = Archive("bitexts", (f"{base}/gone/bitexts.tgz", "http://127.0.0.1:9/bitexts.tgz"),
                      Pins(size=10), local_hint=hint)
    with pytest.raises(DataError) as err:
        fetch_any(tmp_path / "bitexts.tgz", archive)
    message = str(err.value)
    assert "\n" not in message and message.startswith("bitexts.tgz: no mirror answered (")
    assert f"{base}/gone/bitexts.tgz: HTTP Error 404" in message
    assert "http://127.0.0.1:9/bitexts.tgz: " in message
    assert message.endswith(f"; with a copy obtained elsewhere: {hint}")


def test_a_complete_unpack_is_reused_and_another_archive_replaces_it(tmp_path: Path) -> None:
    first = _tar(tmp_path / "a.tgz", [_info("d/f.txt", size=3)])
    out = unpack(first, tmp_path / "u" / "a")
    record = unpack_record(out)
    assert record.name == "a.unpacked.json" and file_sha256(first) in record.read_text()
    stamp = (out / "d" / "f.txt").stat().st_mtime_ns, (out / "d" / "f.txt").stat().st_ino
    assert unpack(first, out) == out  # reused: the member is the very same file
    assert ((out / "d" / "f.txt").stat().st_mtime_ns, (out / "d" / "f.txt").stat().st_ino) == stamp
    second = _tar(tmp_path / "b.tgz", [_info("d/g.txt", size=2)])
    unpack(second, out)  # another archive into the same place: replaced, not merged
    assert sorted(p.name for p in (out / "d").iterdir()) == ["g.txt"]
    assert file_sha256(second) in record.read_text()
    record.unlink()  # an unpack without its completion record is not trusted
    (out / "d" / "g.txt").write_bytes(b"half")
    assert (unpack(second, out) / "d" / "g.txt").read_bytes() == b"xx"
    assert sorted(p.name for p in (tmp_path / "u").iterdir()) == ["a", "a.unpacked.json"]


def test_wmt14_dev_and_test_archives_carry_their_published_md5(compose_cfg) -> None:
    archives = compose_cfg("data=wmt14_en_fr").data.wmt14.archives
    for name in ("dev", "test"):
        assert archives[name].sha256 is None and len(archives[name].md5) == 32
        int(archives[name].md5, 16)  # hex


def test_fetch_refuses_non_http_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only http"):
        fetch(f"file://{tmp_path}/x", tmp_path / "x", None, allow_unpinned=True)


def test_bigram_lm_prefers_in_domain_text() -> None:
    news = ["the minister said on monday .", "the government said the law ."] * 5
    other = ["resumption of the session .", "i declare the session resumed ."] * 5
    vocab = BigramLM.vocabulary(news)
    lm_in, lm_gen = BigramLM(vocab).fit(news), BigramLM(vocab).fit(other + news, chunk=3)
    diff = lm_in.cross_entropy(news[:2] + other[:2]) - lm_gen.cross_entropy(news[:2] + other[:2])
    assert diff[:2].max() < diff[2:].min()


def test_score_and_select_respect_a_french_token_budget() -> None:
    pool = [("the minister said it .", "le ministre l'a dit ."), ("", "vide"),
            ("session resumed .", "reprise de la session ."), ("the law .", "la loi .")]
    in_domain = [("the minister said it .", "le ministre l'a dit ."), ("the law .", "la loi .")]
    scores, n_tokens = score_pool(lambda: iter(pool), in_domain, max_general_pairs=2)
    moses = MosesTokenizer(lang="fr")
    expected = [len(moses.tokenize(fr, escape=False)) for _, fr in pool]
    assert np.isinf(scores[1]) and list(n_tokens) == expected
    assert expected[0] > len(pool[0][1].split())  # Moses tokens, not words: "l'" splits off
    best = np.argsort(scores)[:2]  # the two lowest scores fill the budget exactly
    keep = select_by_budget(scores, n_tokens, budget=int(n_tokens[best].sum()))
    assert set(np.flatnonzero(keep)) == set(best) and not keep[1]
    assert list(select_by_budget(scores, n_tokens, budget=10**6)) == [True, False, True, True]
