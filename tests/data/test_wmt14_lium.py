"""data=wmt14_lium offline: fake LIUM archives in the real layout, served on 127.0.0.1.

Download from a mirror, size/MD5 checks, a local copy, prepare on the published tokens (no
selection, no Moses tokenization), and a tiny train, translate and evaluate on the result:
tokenized BLEU is scored on ntst14's tokens as published.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig
from sacrebleu.metrics import BLEU
from tests.conftest import TINY_MODEL

from rnnsearch import evaluate, prepare, translate, wmt14
from rnnsearch.data.moses import tokenize_line
from rnnsearch.data.parallel_files import DataError
from rnnsearch.training.fit import run as train

SELECTED = ("ep7_pc45", "nc9", "dev08_11", "crawl", "ccb2_pc30", "un2000_pc34")
# A published-style line: Moses entities, and a quote left attached (re-tokenizing splits it)
ESCAPED = ("the man &apos;s &quot;yes&quot; &amp; more .",
           "l&apos; homme dit &quot;oui&quot; &amp; plus .")
WORDS_EN = "the a man house says yes big small".split()
WORDS_FR = "le un homme maison dit oui grand petit".split()


def _lines(n: int, words: list[str], seed: int) -> list[str]:
    return [" ".join(words[(seed + i + k) % len(words)] for k in range(2 + (seed + i) % 6)) + " ."
            for i in range(n)]


def _tar(path: Path, members: dict[str, bytes]) -> bytes:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path.read_bytes()


def _text(lines: list[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


@pytest.fixture
def lium(http_dir: tuple[Path, str], compose_cfg: Callable[..., DictConfig]
         ) -> tuple[DictConfig, dict[str, bytes]]:
    """data=wmt14_lium whose archives sit on a local mirror (the first URL answers 404)."""
    served, base = http_dir
    bitexts = {}
    for k, name in enumerate(SELECTED):
        n = 40 + 5 * k
        bitexts[f"bitexts.selected/{name}.en.gz"] = gzip.compress(_text(_lines(n, WORDS_EN, k)))
        bitexts[f"bitexts.selected/{name}.fr.gz"] = gzip.compress(_text(_lines(n, WORDS_FR, k)))
    devtest = {"dev/ntst1213.en": _text(_lines(30, WORDS_EN, 7)),
               "dev/ntst1213.fr": _text(_lines(30, WORDS_FR, 7)),
               "dev/ntst14.en": _text([ESCAPED[0], *_lines(20, WORDS_EN, 9)]),
               "dev/ntst14.fr": _text([ESCAPED[1], *_lines(20, WORDS_FR, 9)])}
    blobs = {"bitexts.tgz": _tar(served / "bitexts.tgz", bitexts),
             "dev+test.tgz": _tar(served / "dev+test.tgz", devtest)}
    cfg = compose_cfg("data=wmt14_lium", "scale=paper", "data.vocab_size=40",
                      "data.wmt14.allow_unpinned=true")
    for key, fname in (("bitexts", "bitexts.tgz"), ("devtest", "dev+test.tgz")):
        archive = cfg.data.wmt14.archives[key]
        archive.url = f"{base}/gone/{fname}"  # the first mirror is down
        archive.mirrors = [f"{base}/{fname}"]
    cfg.data.wmt14.archives.bitexts.size = len(blobs["bitexts.tgz"])
    cfg.data.wmt14.archives.devtest.md5 = hashlib.md5(blobs["dev+test.tgz"]).hexdigest()
    return cfg, blobs


def test_download_prepare_keeps_the_published_tokens(lium, caplog) -> None:
    cfg, blobs = lium
    summary = wmt14.run(cfg)
    raw = Path(cfg.data.raw_dir)
    assert summary["dev"] == 30 and summary["test"] == 21
    assert summary["train_pairs"] == sum(40 + 5 * k for k in range(6))
    assert summary["train_files"]["nc9"]["en"]["lines"] == 45
    assert summary["sha256"]["bitexts"] == hashlib.sha256(blobs["bitexts.tgz"]).hexdigest()
    assert json.loads((raw / "corpus.json").read_text())["train_pairs"] == summary["train_pairs"]
    assert any("UNPINNED" in r.getMessage() and "bitexts" in r.getMessage()
               for r in caplog.records)  # the sha256 to pin is logged
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


def test_size_and_md5_are_checked(lium) -> None:
    cfg, _ = lium
    cfg.data.wmt14.archives.bitexts.size += 1
    with pytest.raises(DataError, match="bitexts.tgz: size mismatch"):
        wmt14.run(cfg)
    cfg.data.wmt14.archives.bitexts.size -= 1
    cfg.data.wmt14.archives.devtest.md5 = "0" * 32
    with pytest.raises(DataError, match=r"dev\+test.tgz: checksum mismatch: expected md5"):
        wmt14.run(cfg)


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
