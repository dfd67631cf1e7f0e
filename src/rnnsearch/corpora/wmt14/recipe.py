"""Entry point: the WMT'14 English->French recipe of Sec. 4.1 (needs a network the first time).

Steps: download each archive named in `data.wmt14.archives` (statmt.org URLs, SHA-256 verified
before anything is unpacked), unpack it safely, select training pairs from the pool
(Europarl, News Commentary, UN, Common Crawl, 10^9 French-English) by cross-entropy difference
(`selection.py`) up to `selection_budget_words`, and write the raw layout `rnnsearch.prepare` reads:

  <raw_dir>/train.{en,fr}.gz      selected pairs (raw text)
  <raw_dir>/dev.{en,fr}           news-test-2012 + news-test-2013 segments (from SGML)
  <raw_dir>/test.{en,fr}.sgm      news-test-2014 (3003 segments), SGML as published
  <raw_dir>/selection.json        pool and selection sizes, archive hashes
  <download_dir>/SHA256SUMS       hashes of the downloads (to pin unpinned ones)

Usage: `python -m rnnsearch.wmt14` then `python -m rnnsearch.prepare data=wmt14_en_fr`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rnnsearch.corpora.wmt14.download import fetch_and_unpack
from rnnsearch.corpora.wmt14.selection import select_pairs
from rnnsearch.data.sgml import read_sgml_pair
from rnnsearch.io_utils import atomic_write_bytes, atomic_write_json, atomic_write_lines

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
                    w.archives[n].size) for n in names}
    return fetch_and_unpack(archives, Path(w.download_dir), raw_dir / "unpacked", w.allow_unpinned)


def _member(roots: dict[str, Path], files: DictConfig, lang: str) -> Path:
    path = roots[files.archive] / files[lang]
    if not path.is_file():
        raise FileNotFoundError(f"{files.archive} archive has no member {files[lang]} ({path})")
    return path


def write_heldout(w: DictConfig, roots: dict[str, Path], raw_dir: Path) -> dict[str, int]:
    """Dev: the dev SGML pairs concatenated as plain text; test: the SGML files themselves."""
    dev = [read_sgml_pair(_member(roots, f, "en"), _member(roots, f, "fr")) for f in w.dev]
    dev_en = [line for en, _ in dev for line in en]
    atomic_write_lines(raw_dir / "dev.en", dev_en)
    atomic_write_lines(raw_dir / "dev.fr", [line for _, fr in dev for line in fr])
    test_en, _ = read_sgml_pair(_member(roots, w.test, "en"), _member(roots, w.test, "fr"))
    for lang in ("en", "fr"):
        atomic_write_bytes(raw_dir / f"test.{lang}.sgm", _member(roots, w.test, lang).read_bytes())
    return {"dev": len(dev_en), "test": len(test_en)}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Download, verify, unpack, select and write the raw WMT'14 layout; return a summary."""
    w, raw_dir = cfg.data.wmt14, Path(cfg.data.raw_dir)
    if not w.archives:
        raise ValueError(f"data={cfg.data.name} has no data.wmt14.archives; use data=wmt14_en_fr")
    roots, hashes = fetch_archives(w, raw_dir)
    summary: dict[str, Any] = {"sha256": hashes, **write_heldout(w, roots, raw_dir)}
    pool_files = [(_member(roots, f, "en"), _member(roots, f, "fr")) for f in w.train.values()]
    summary.update(select_pairs(pool_files, (raw_dir / "dev.en", raw_dir / "dev.fr"),
                                w.selection_budget_words, w.general_lm_max_pairs,
                                (raw_dir / "train.en.gz", raw_dir / "train.fr.gz")))
    atomic_write_json(raw_dir / "selection.json", summary)
    log.info("WMT'14 raw data in %s: %d of %d pool pairs selected (%d English words)", raw_dir,
             summary["selected_pairs"], summary["pool_pairs"], summary["selected_words_en"])
    return summary
