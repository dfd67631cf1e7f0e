"""Entry point: the WMT'14 English->French recipe of Sec. 4.1 (needs a network the first time).

Steps: download each archive named in `data.wmt14.archives` (statmt.org URLs, SHA-256 verified
before anything is unpacked), unpack it safely, select training pairs from the pool
(Europarl, News Commentary, UN, Common Crawl, 10^9 French-English, and newstest2008-2011 from
dev.tgz's SGML) by cross-entropy difference (`selection.py`) up to `selection_budget_tokens_fr`
French tokens after Moses tokenization, and write the raw layout `rnnsearch.prepare` reads:

  <raw_dir>/train.{en,fr}.gz      selected pairs (raw text)
  <raw_dir>/dev.{en,fr}           news-test-2012 + news-test-2013 segments (from SGML)
  <raw_dir>/test.{en,fr}.sgm      news-test-2014 (3003 segments), SGML as published
  <raw_dir>/pool/<name>.{en,fr}   SGML pool entries (newstest2008-2011) as line-aligned text
  <raw_dir>/selection.json        pool and selection sizes, archive hashes
  <download_dir>/SHA256SUMS       hashes of the downloads (to pin unpinned ones)

Usage: `python -m rnnsearch.wmt14` then `python -m rnnsearch.prepare data=wmt14_en_fr`.
With `data=wmt14_lium` (the paper's own corpus, `data.wmt14.selection=false`) the six selected
pairs are concatenated as published into train.{en,fr}.gz, dev = ntst1213, test = ntst14 as
line-aligned tokenized text (test.{en,fr}); corpus.json holds line counts and sizes.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rnnsearch.corpora.wmt14.download import fetch_and_unpack
from rnnsearch.corpora.wmt14.selection import select_pairs
from rnnsearch.data.parallel_files import DataError, read_parallel
from rnnsearch.data.sgml import read_sgml_pair
from rnnsearch.io_utils import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_lines,
)

log = logging.getLogger(__name__)


def fetch_archives(w: DictConfig, raw_dir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Download, verify and unpack the archives the train/dev/test entries use.

    Returns:
        (archive name -> unpacked directory, archive name -> sha256).
    """
    names = sorted({f.archive for f in [*w.train.values(), *w.dev, w.test]})
    unknown = [n for n in names if n not in w.archives]
    if unknown:
        raise ValueError(f"data.wmt14 names undefined archives {unknown}; add them to archives")
    archives = {n: (w.archives[n].url, w.archives[n].sha256, w.archives[n].md5,
                    w.archives[n].size, list(w.archives[n].mirrors)) for n in names}
    local = Path(w.local_dir) if w.local_dir else None
    return fetch_and_unpack(archives, Path(w.download_dir), raw_dir / "unpacked", w.allow_unpinned,
                            local)


def _member(roots: dict[str, Path], files: DictConfig, lang: str) -> Path:
    path = roots[files.archive] / files[lang]
    if not path.is_file():
        raise FileNotFoundError(f"{files.archive} archive has no member {files[lang]} ({path})")
    return path


def _read_pair(roots: dict[str, Path], files: DictConfig) -> tuple[list[str], list[str]]:
    """One held-out pair of members: WMT SGML (`.sgm`) or line-aligned text (LIUM)."""
    en, fr = _member(roots, files, "en"), _member(roots, files, "fr")
    return read_sgml_pair(en, fr) if en.suffix == ".sgm" else read_parallel(en, fr)


def write_heldout(w: DictConfig, roots: dict[str, Path], raw_dir: Path) -> dict[str, int]:
    """Dev: the dev pairs concatenated as plain text; test: SGML files as they are, plain text
    (LIUM's pre-tokenized ntst14) copied unchanged."""
    if _member(roots, w.test, "en").suffix != ".sgm":
        dev = [_read_pair(roots, f) for f in w.dev]
        for lang, k in (("en", 0), ("fr", 1)):
            atomic_write_lines(raw_dir / f"dev.{lang}", [line for d in dev for line in d[k]])
            atomic_write_bytes(raw_dir / f"test.{lang}", _member(roots, w.test, lang).read_bytes())
        return {"dev": sum(len(d[0]) for d in dev), "test": len(_read_pair(roots, w.test)[0])}
    dev = [read_sgml_pair(_member(roots, f, "en"), _member(roots, f, "fr")) for f in w.dev]
    dev_en = [line for en, _ in dev for line in en]
    atomic_write_lines(raw_dir / "dev.en", dev_en)
    atomic_write_lines(raw_dir / "dev.fr", [line for _, fr in dev for line in fr])
    test_en, _ = read_sgml_pair(_member(roots, w.test, "en"), _member(roots, w.test, "fr"))
    for lang in ("en", "fr"):
        atomic_write_bytes(raw_dir / f"test.{lang}.sgm", _member(roots, w.test, lang).read_bytes())
    return {"dev": len(dev_en), "test": len(test_en)}


def _append_lines(src: Path, out: Any) -> tuple[int, int]:
    """Copy the lines of a (gzipped) text file into the open binary `out`: (lines, bytes)."""
    lines = size = 0
    with (gzip.open(src, "rb") if src.suffix == ".gz" else open(src, "rb")) as fh:
        for line in fh:
            out.write(line if line.endswith(b"\n") else line + b"\n")
            lines, size = lines + 1, size + len(line)
    return lines, size


def write_train_as_is(w: DictConfig, roots: dict[str, Path], raw_dir: Path) -> dict[str, Any]:
    """The train entries concatenated, unchanged, into train.{en,fr}.gz (no selection: the LIUM
    corpus is the selection, Sec. 4.1); line counts and sizes per file."""
    files: dict[str, Any] = {}
    for lang in ("en", "fr"):
        with atomic_path(raw_dir / f"train.{lang}.gz") as tmp, gzip.open(tmp, "wb") as out:
            for name, f in w.train.items():
                lines, size = _append_lines(_member(roots, f, lang), out)
                files.setdefault(name, {})[lang] = {"lines": lines, "bytes": size}
    for name, sides in files.items():
        if sides["en"]["lines"] != sides["fr"]["lines"]:
            raise DataError(f"{w.train[name].en} has {sides['en']['lines']} lines but "
                            f"{w.train[name].fr} has {sides['fr']['lines']}")
    return {"train_files": files, "train_pairs": sum(s["en"]["lines"] for s in files.values())}


def pool_files(w: DictConfig, roots: dict[str, Path], raw_dir: Path) -> list[tuple[Path, Path]]:
    """(en, fr) line-aligned files of the selection pool: text members as they are, SGML members
    (newstest2008-2011) read from their `<seg>`s into <raw_dir>/pool/<name>.{en,fr}."""
    files = []
    for name, f in w.train.items():
        en, fr = _member(roots, f, "en"), _member(roots, f, "fr")
        if en.suffix == ".sgm":
            sides = read_sgml_pair(en, fr)
            en, fr = (raw_dir / "pool" / f"{name}.{lang}" for lang in ("en", "fr"))
            for path, lines in ((en, sides[0]), (fr, sides[1])):
                atomic_write_lines(path, lines)
        files.append((en, fr))
    return files


def run(cfg: DictConfig) -> dict[str, Any]:
    """Download, verify, unpack, select and write the raw WMT'14 layout; return a summary."""
    w, raw_dir = cfg.data.wmt14, Path(cfg.data.raw_dir)
    if not w.archives:
        raise ValueError(f"data={cfg.data.name} has no data.wmt14.archives; use data=wmt14_lium")
    roots, hashes = fetch_archives(w, raw_dir)
    summary: dict[str, Any] = {"sha256": hashes, **write_heldout(w, roots, raw_dir)}
    if not w.selection:
        summary.update(write_train_as_is(w, roots, raw_dir))
        atomic_write_json(raw_dir / "corpus.json", summary)
        log.info("WMT'14 raw data in %s: %d training pairs as published, dev %d, test %d",
                 raw_dir, summary["train_pairs"], summary["dev"], summary["test"])
        return summary
    summary.update(select_pairs(pool_files(w, roots, raw_dir),
                                (raw_dir / "dev.en", raw_dir / "dev.fr"),
                                w.selection_budget_tokens_fr, w.general_lm_max_pairs,
                                (raw_dir / "train.en.gz", raw_dir / "train.fr.gz"),
                                cfg.data.prepare_workers))
    atomic_write_json(raw_dir / "selection.json", summary)
    log.info("WMT'14 raw data in %s: %d of %d pool pairs selected (%d French tokens)", raw_dir,
             summary["selected_pairs"], summary["pool_pairs"], summary["selected_tokens_fr"])
    return summary
