"""WMT'14 recipe end to end, offline: archives built from the real samples, served on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig
from sacremoses import MosesTokenizer

from rnnsearch import prepare, wmt14
from rnnsearch.config import Wmt14ArchiveConfig as Archive
from rnnsearch.config import Wmt14FilesConfig as Files
from rnnsearch.corpora.wmt14 import recipe
from rnnsearch.data.parallel_files import DataError, load_split
from rnnsearch.data.vocab import Vocabulary

NT = "newstest2014-fren/newstest2014-fren"
# newstest2008 in dev.tgz: joins the selection pool (LIUM's dev08_11), read from its SGML
NT08 = {"en": ["A bank raised its rates.", "Prices fell again in May."],
        "fr": ["Une banque a relevé ses taux.", "Les prix ont encore baissé en mai."]}


def _sgml(kind: str, lines: list[str]) -> bytes:
    """A one-document WMT SGML set (`srcset` or `refset`) with `lines` as its segments."""
    segs = "".join(f'<seg id="{k}">{line}</seg>\n' for k, line in enumerate(lines, 1))
    return (f'<{kind} setid="newstest2008" srclang="any">\n<doc docid="d1" genre="news">\n'
            f"{segs}</doc>\n</{kind}>\n").encode()


def _archive(path: Path, members: dict[str, Path | bytes]) -> str:
    """Write a tar (.tgz: gzipped) of `members` (name -> file or bytes); return its sha256."""
    mode = "w:gz" if path.suffix == ".tgz" else "w"
    with tarfile.open(path, mode) as tar:
        for name, src in members.items():
            data = src if isinstance(src, bytes) else src.read_bytes()
            if name.endswith(".gz"):
                data = gzip.compress(data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def wmt_cfg(real_data_dir: Path, http_dir: tuple[Path, str],
            compose_cfg: Callable[..., DictConfig]) -> DictConfig:
    """data=wmt14_en_fr whose archives (Europarl, news, a giga-style tar of .gz) are local."""
    served, base = http_dir
    r = real_data_dir
    pair = ("en", "fr")
    europarl = r / "europarl-v7-fr-en-sample-raw" / "europarl-v7.fr-en"
    hansards = r / "hansards-align-en-fr" / "hansards.first37"
    dev: dict[str, Path | bytes] = {f"dev/newstest{y}-{k}": r / f"newstest{y}" / f"newstest{y}-{k}"
                                    for y in (2012, 2013) for k in ("src.en.sgm", "ref.fr.sgm")}
    dev["dev/news-test2008-src.en.sgm"] = _sgml("srcset", NT08["en"])
    dev["dev/news-test2008-ref.fr.sgm"] = _sgml("refset", NT08["fr"])
    files = {
        "europarl": ("europarl.tgz", {f"training/europarl-v7.fr-en.{x}": Path(f"{europarl}.{x}")
                                      for x in pair}),
        "news": ("nc.tgz", {f"training/nc.{x}": r / "newstest2013" / f"newstest2013.{x}"
                            for x in pair}),
        "giga": ("giga.tar", {f"giga.{x}.gz": Path(f"{hansards}.{x[0]}") for x in pair}),
        "dev": ("dev.tgz", dev),
        "test": ("test-full.tgz", {f"test-full/{Path(NT).name}-{k}": r / f"{NT}-{k}"
                                   for k in ("src.en.sgm", "ref.fr.sgm")}),
    }
    cfg = compose_cfg("data=wmt14_en_fr", "scale=paper", "data.vocab_size=2000",
                      "data.wmt14.selection_budget_tokens_fr=150000", "data.prepare_workers=1")
    cfg.data.wmt14.archives = {name: Archive(f"{base}/{fname}", _archive(served / fname, members))
                               for name, (fname, members) in files.items()}
    cfg.data.wmt14.train = {
        "europarl": Files("europarl", "training/europarl-v7.fr-en.en",
                          "training/europarl-v7.fr-en.fr"),
        "news": Files("news", "training/nc.en", "training/nc.fr"),
        "giga": Files("giga", "giga.en.gz", "giga.fr.gz"),
        "newstest2008": Files("dev", "dev/news-test2008-src.en.sgm",
                              "dev/news-test2008-ref.fr.sgm")}
    cfg.data.wmt14.dev = [Files("dev", f"dev/newstest{y}-src.en.sgm", f"dev/newstest{y}-ref.fr.sgm")
                          for y in (2012, 2013)]
    cfg.data.wmt14.test = Files("test", f"test-full/{Path(NT).name}-src.en.sgm",
                                f"test-full/{Path(NT).name}-ref.fr.sgm")
    return cfg


def test_download_select_prepare_end_to_end(wmt_cfg: DictConfig) -> None:
    summary = wmt14.run(wmt_cfg)
    raw = Path(wmt_cfg.data.raw_dir)
    assert summary["dev"] == 6003 and summary["test"] == 3003
    assert summary["pool_pairs"] == 20000 + 3000 + 37 + 2
    assert (raw / "pool" / "newstest2008.fr").read_text(encoding="utf-8").splitlines() == \
        NT08["fr"]
    # the budget counts French tokens after Moses tokenization, recounted here with sacremoses
    selected_fr = gzip.decompress((raw / "train.fr.gz").read_bytes()).decode().splitlines()
    moses = MosesTokenizer(lang="fr")
    n_fr = sum(len(moses.tokenize(line.strip(), escape=False)) for line in selected_fr)
    assert summary["selected_tokens_fr"] == n_fr <= 150000 < summary["pool_tokens_fr"]
    assert n_fr > sum(len(line.split()) for line in selected_fr)  # punctuation split off
    # filled up to the first pair that no longer fits: its tokens, at most its characters (every
    # pool line has under 700), exceed what is left of the budget
    assert 150000 - n_fr < 700
    selected = gzip.decompress((raw / "train.en.gz").read_bytes()).decode().splitlines()
    news = set((raw / "dev.en").read_text(encoding="utf-8").splitlines())
    news_share = sum(line in news for line in selected) / len(selected)
    assert news_share > 3000 / 23039  # in-domain (news) pairs are over-represented
    assert json.loads((raw / "selection.json").read_text())["selected_pairs"] == len(selected)
    assert (Path(wmt_cfg.data.wmt14.download_dir) / "SHA256SUMS").is_file()

    stats = prepare.run(wmt_cfg)
    out = Path(wmt_cfg.data.prepared_dir)
    assert len(load_split(out, "test")) == 3003
    assert stats["dev"]["pairs"] + stats["dev"]["dropped_empty"] == 6003
    assert len(Vocabulary.load(out / "vocab.fr.txt")) == 2000
    assert 0.01 < stats["test"]["en"]["unk_rate"] < 0.3
    tok = (out / "test.fr.tok").read_text(encoding="utf-8").split("\n")
    raw_fr = (out / "test.fr.raw").read_text(encoding="utf-8").split("\n")
    assert tok[0] == 'Spectaculaire saut en " wingsuit " au-dessus de Bogota'
    assert raw_fr[0] == 'Spectaculaire saut en "wingsuit" au-dessus de Bogota'
    assert (out / "test.en.tok").read_text(encoding="utf-8").startswith(
        "Spectacular Wingsuit Jump Over Bogota\n")


def test_checksum_mismatch_fails_before_unpacking(wmt_cfg: DictConfig) -> None:
    wmt_cfg.data.wmt14.archives.test.sha256 = "0" * 64
    with pytest.raises(DataError, match="test-full.tgz: checksum mismatch") as err:
        wmt14.run(wmt_cfg)
    assert "\n" not in str(err.value)
    assert not (Path(wmt_cfg.data.raw_dir) / "unpacked" / "test").exists()
    assert not list(Path(wmt_cfg.data.wmt14.download_dir).glob("test-full*"))


def test_unpinned_hash_needs_explicit_opt_in(wmt_cfg: DictConfig) -> None:
    """An archive with no sha256, MD5 or size (unlike LIUM's) needs allow_unpinned."""
    wanted = wmt_cfg.data.wmt14.archives.dev.sha256
    wmt_cfg.data.wmt14.archives.dev.sha256 = None
    with pytest.raises(DataError, match=r"dev\.tgz: no sha256, md5 or size pinned \(data\.wmt14"
                                        r"\.archives\.dev in conf/data/wmt14_en_fr\.yaml\)"):
        recipe.fetch_archives(wmt_cfg)
    wmt_cfg.data.wmt14.allow_unpinned = True
    _, hashes = recipe.fetch_archives(wmt_cfg)
    assert hashes["dev"] == wanted
    sums = (Path(wmt_cfg.data.wmt14.download_dir) / "SHA256SUMS").read_text()
    assert f"{wanted}  dev.tgz" in sums


def test_path_traversal_member_is_rejected(wmt_cfg: DictConfig, http_dir: tuple) -> None:
    served, _ = http_dir
    evil = _archive(served / "test-full.tgz", {"../../escaped.txt": b"pwned"})
    wmt_cfg.data.wmt14.archives.test.sha256 = evil
    with pytest.raises(DataError, match=r"unsafe archive member '\.\./\.\./escaped\.txt'"):
        wmt14.run(wmt_cfg)
    tmp_root = served.parent
    assert not list(tmp_root.rglob("escaped.txt"))
    assert not (Path(wmt_cfg.data.raw_dir) / "unpacked" / "test").exists()
