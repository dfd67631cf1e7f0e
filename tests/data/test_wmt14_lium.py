"""data=wmt14_lium offline: fake LIUM archives in the real layout, served on 127.0.0.1.

Download from a mirror, size/MD5 checks, a local copy, prepare on the published tokens (no
selection, no Moses tokenization), and a tiny train, translate and evaluate on the result:
tokenized BLEU is scored on ntst14's tokens as published.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig
from sacrebleu.metrics import BLEU
from tests.conftest import TINY_MODEL
from tests.data.lium_archives import BITEXTS, DEVTEST, plain_members, write_archives

from rnnsearch import evaluate, prepare, translate, wmt14
from rnnsearch.data.moses import tokenize_line
from rnnsearch.data.parallel_files import DataError
from rnnsearch.training.fit import run as train

CONFIG = "conf/data/wmt14_lium.yaml"


def _mirrored(cfg: DictConfig, base: str, blobs: dict[str, bytes]) -> DictConfig:
    """Both archives on the second mirror at `base` (the first URL answers 404), with the
    published size and MD5 of the fake archives."""
    for key, fname in (("bitexts", BITEXTS), ("devtest", DEVTEST)):
        archive = cfg.data.wmt14.archives[key]
        archive.url = f"{base}/gone/{fname}"  # the first mirror is down
        archive.mirrors = [f"{base}/{fname}"]
    cfg.data.wmt14.archives.bitexts.size = len(blobs[BITEXTS])
    cfg.data.wmt14.archives.devtest.md5 = hashlib.md5(blobs[DEVTEST]).hexdigest()
    return cfg


@pytest.fixture
def lium(http_dir: tuple[Path, str], compose_cfg: Callable[..., DictConfig]
         ) -> tuple[DictConfig, dict[str, bytes]]:
    """data=wmt14_lium whose archives sit on a local mirror (the first URL answers 404)."""
    served, base = http_dir
    blobs = write_archives(served, *plain_members())
    cfg = compose_cfg("data=wmt14_lium", "scale=paper", "data.vocab_size=40")
    return _mirrored(cfg, base, blobs), blobs


def test_download_prepare_keeps_the_published_tokens(lium) -> None:
    cfg, blobs = lium
    summary = wmt14.run(cfg)
    raw = Path(cfg.data.raw_dir)
    assert summary["dev"] == 30 and summary["test"] == 21
    assert summary["train_pairs"] == sum(40 + 5 * k for k in range(6))
    assert summary["train_files"]["nc9"]["en"]["lines"] == 45
    assert summary["sha256"]["bitexts"] == hashlib.sha256(blobs["bitexts.tgz"]).hexdigest()
    record = json.loads((raw / "corpus.json").read_text())
    assert record["train_pairs"] == summary["train_pairs"]
    # bitexts.tgz has no published hash: it is accepted on its size, its sha256 recorded
    assert record["sha256"]["bitexts"] == hashlib.sha256(blobs["bitexts.tgz"]).hexdigest()
    stats = prepare.run(cfg)
    assert stats["test"]["pairs"] == 21 and stats["dev"]["pairs"] == 30
    out = Path(cfg.data.prepared_dir)
    tok = (out / "test.fr.tok").read_text(encoding="utf-8").splitlines()
    published = (raw / "test.fr").read_text(encoding="utf-8").splitlines()
    # tokenized BLEU's reference: the published tokens, entities unescaped, nothing else
    assert tok[0] == "l' homme dit \"oui\" & plus ."
    assert [t.split() for t in tok[1:]] == [p.split() for p in published[1:]]
    # re-tokenizing the sentence (what data=wmt14_en_fr does) would give other tokens
    detok = (out / "test.fr.raw").read_text(encoding="utf-8").splitlines()[0]
    assert tokenize_line(detok, "fr") != tok[0].split()


def test_a_local_copy_is_read_not_downloaded(lium, tmp_path: Path) -> None:
    cfg, blobs = lium
    local = tmp_path / "have"
    local.mkdir()
    for fname, blob in blobs.items():
        (local / fname).write_bytes(blob)
    cfg.data.wmt14.local_dir = str(local)
    for archive in cfg.data.wmt14.archives.values():
        archive.url, archive.mirrors = "http://127.0.0.1:9/nowhere/" + Path(archive.url).name, []
    assert wmt14.run(cfg)["test"] == 21
    assert not (Path(cfg.data.wmt14.download_dir) / "bitexts.tgz").exists()


def _one_line_error(cfg: DictConfig) -> str:
    with pytest.raises(DataError) as err:
        wmt14.run(cfg)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_size_and_md5_are_checked_naming_the_corpus_config(lium) -> None:
    cfg, blobs = lium
    size = len(blobs[BITEXTS])
    cfg.data.wmt14.archives.bitexts.size = size + 1
    assert _one_line_error(cfg).endswith(
        f"bitexts.tgz: size mismatch: expected {size + 1} bytes, got {size} "
        f"(data.wmt14.archives.bitexts in {CONFIG})")
    cfg.data.wmt14.archives.bitexts.size = size
    cfg.data.wmt14.archives.devtest.md5 = "0" * 32
    assert f"dev+test.tgz: checksum mismatch: expected md5 {'0' * 32}, got " in \
        _one_line_error(cfg)
    assert not (Path(cfg.data.raw_dir) / "unpacked").exists()  # nothing unpacked


def test_a_rerun_fetches_unpacks_and_writes_nothing(lium, http_dir) -> None:
    cfg, _ = lium
    first = wmt14.run(cfg)
    raw = Path(cfg.data.raw_dir)
    files = {p: (p.stat().st_mtime_ns, p.stat().st_ino, p.read_bytes())
             for p in raw.rglob("*") if p.is_file()}
    for served in http_dir[0].iterdir():  # the mirror goes away: nothing needs it now
        served.unlink()
    assert wmt14.run(cfg) == first
    after = {p: (p.stat().st_mtime_ns, p.stat().st_ino, p.read_bytes())
             for p in raw.rglob("*") if p.is_file()}
    assert after == files  # not one file rewritten, unpacked or downloaded again
    # a forced rewrite (no record) gives the very same bytes: gzip without name or time
    train = (raw / "train.en.gz").read_bytes()
    (raw / "corpus.json").unlink()
    shutil.rmtree(raw / "unpacked")
    wmt14.run(cfg)
    assert (raw / "train.en.gz").read_bytes() == train and train[4:8] == b"\0\0\0\0"
    assert gzip.decompress(train).decode().count("\n") == first["train_pairs"]


def test_an_archive_other_than_the_recorded_one_is_refused(lium, http_dir) -> None:
    cfg, blobs = lium
    recorded = wmt14.run(cfg)["sha256"]["bitexts"]
    changed = bytearray(blobs[BITEXTS])
    changed[len(changed) // 2] ^= 0xFF  # the published size still holds
    (http_dir[0] / BITEXTS).write_bytes(bytes(changed))
    (Path(cfg.data.wmt14.download_dir) / BITEXTS).unlink()
    message = _one_line_error(cfg)
    assert message.endswith(
        f"bitexts.tgz: sha256 {hashlib.sha256(changed).hexdigest()} differs from {recorded}, "
        f"recorded in {cfg.data.raw_dir}/corpus.json when this corpus was unpacked; a "
        f"different archive: delete {cfg.data.raw_dir} and rerun to start afresh")


def test_a_missing_member_is_named(lium, http_dir) -> None:
    cfg, _ = lium
    bitexts, devtest = plain_members()
    del bitexts["bitexts.selected/nc9.fr.gz"]
    _mirrored(cfg, http_dir[1], write_archives(http_dir[0], bitexts, devtest))
    assert _one_line_error(cfg) == (f"bitexts.tgz has no member bitexts.selected/nc9.fr.gz "
                                    f"(data.wmt14.train.nc9.fr in {CONFIG})")


def test_no_mirror_answering_shows_the_local_copy_route(lium) -> None:
    cfg, _ = lium
    cfg.data.wmt14.archives.bitexts.mirrors = []
    message = _one_line_error(cfg)
    url = cfg.data.wmt14.archives.bitexts.url
    assert message.startswith(f"bitexts.tgz: no mirror answered ({url}: HTTP Error 404")
    assert message.endswith('with a copy obtained elsewhere: make repro-wmt14 '
                            'WMT14_ARGS="data.wmt14.local_dir=/path/to/archives"')


def _tokenized_bleu(hyp: list[str], ref: list[str]) -> float:
    """multi-bleu style BLEU (no tokenization, no smoothing), as Table 1's tokenized column."""
    return round(BLEU(tokenize="none", smooth_method="none", force=True)
                 .corpus_score(hyp, [ref]).score, 2)


def test_tiny_train_translate_evaluate_on_the_lium_layout(lium, compose_cfg) -> None:
    cfg, _ = lium
    wmt14.run(cfg)
    prepare.run(cfg)
    tiny = compose_cfg(
        "data=wmt14_lium", "scale=paper", "data.vocab_size=40", "trainer=smoke",
        "trainer.max_steps=2", "experiment_name=lium_tiny", *TINY_MODEL, "model.output_rank=6",
        "data.batch_size=8", "data.sort_batches=2", "data.dev_bleu_sentences=4",
        "decode.beam_size=2")
    summary = train(tiny)
    assert summary["updates"] == 2 and summary["stop_reason"] == "update_budget"
    translate.run(tiny)
    hyp_path = Path(tiny.paths.translation_dir) / "test.hyp.tok"
    hyp = hyp_path.read_text(encoding="utf-8").splitlines()
    # the reference, independently: ntst14.fr as published, Moses entities unescaped
    published = (Path(cfg.data.raw_dir) / "test.fr").read_text(encoding="utf-8").splitlines()
    reference = [html.unescape(line) for line in published]
    assert len(hyp) == len(reference) == 21
    assert evaluate.run(tiny)["bleu"]["all"] == _tokenized_bleu(hyp, reference)
    # A hypothesis equal to the published tokens scores 100; against a re-tokenized reference
    # (the line with Moses escapes gets other tokens) it would not.
    atomic = hyp_path.with_suffix(".tmp")
    atomic.write_text("".join(f"{line}\n" for line in reference), encoding="utf-8")
    atomic.replace(hyp_path)
    assert evaluate.run(tiny)["bleu"]["all"] == 100.0
    detok = (Path(cfg.data.prepared_dir) / "test.fr.raw").read_text(encoding="utf-8")
    retokenized = [" ".join(tokenize_line(line, "fr")) for line in detok.splitlines()]
    assert retokenized[0] != reference[0] and retokenized[1:] == reference[1:]
    assert _tokenized_bleu(reference, retokenized) < 100.0
