"""Entry point: the WMT'14 English->French recipe of Sec. 4.1 (needs a network the first time).

Steps: download each archive named in `data.wmt14.archives` (or read it from
`data.wmt14.local_dir`), verify it before anything is unpacked (`download.py`: the pinned SHA-256,
else the published MD5 or byte size, and the SHA-256 recorded by an earlier run), unpack it
safely, select training pairs from the pool (Europarl, News Commentary, UN, Common Crawl, 10^9
French-English, and newstest2008-2011 from dev.tgz's SGML) by cross-entropy difference
(`selection.py`) up to `selection_budget_tokens_fr` French tokens after Moses tokenization, and
write the raw layout `rnnsearch.prepare` reads:

  <raw_dir>/train.{en,fr}.gz      selected pairs (raw text; gzip with no name and mtime 0)
  <raw_dir>/dev.{en,fr}           news-test-2012 + news-test-2013 segments (from SGML)
  <raw_dir>/test.{en,fr}.sgm      news-test-2014 (3003 segments), SGML as published
  <raw_dir>/pool/<name>.{en,fr}   SGML pool entries (newstest2008-2011) as line-aligned text
  <raw_dir>/selection.json        the record: archive hashes, inputs, pool and selection sizes
  <raw_dir>/unpacked/<archive>/   the unpacked archives (+ <archive>.unpacked.json)
  <download_dir>/SHA256SUMS       hashes of the downloads

Usage: `python -m rnnsearch.wmt14` then `python -m rnnsearch.prepare data=wmt14_en_fr`.
With `data=wmt14_lium` (the paper's own corpus, `data.wmt14.selection=false`) the six selected
pairs are concatenated as published into train.{en,fr}.gz, dev = ntst1213, test = ntst14 as
line-aligned tokenized text (test.{en,fr}); the record is corpus.json, with line counts and sizes.

A rerun whose record matches (same archive hashes and entries, every file there) downloads,
unpacks and writes nothing, so DVC sees an unchanged `prepare` input.
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any, BinaryIO

from omegaconf import DictConfig, OmegaConf

from rnnsearch.corpora.wmt14.download import Archive, Pins, obtain
from rnnsearch.corpora.wmt14.selection import select_pairs
from rnnsearch.corpora.wmt14.unpack import unpack
from rnnsearch.data.parallel_files import DataError, read_parallel
from rnnsearch.data.sgml import read_sgml_pair
from rnnsearch.io_utils import (
    atomic_gzip,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_lines,
)

log = logging.getLogger(__name__)
MAKE_CORPUS = "wmt14_lium"  # the corpus `make repro-wmt14` downloads (Makefile)
LOCAL_DIR = "data.wmt14.local_dir=/path/to/archives"


def config_file(cfg: DictConfig) -> str:
    """The config file of the corpus in use, as named in errors."""
    return f"conf/data/{cfg.data.name}.yaml"


def record_path(cfg: DictConfig) -> Path:
    """The corpus record: archive hashes, what the raw layout was made from, its files."""
    name = "selection.json" if cfg.data.wmt14.selection else "corpus.json"
    return Path(cfg.data.raw_dir) / name


def read_record(path: Path) -> dict[str, Any]:
    """The corpus record of an earlier run ({} when there is none)."""
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a corpus record ({err}); delete it and rerun") from None
    return record if isinstance(record, dict) else {}


def archive_specs(cfg: DictConfig, record: dict[str, Any]) -> dict[str, Archive]:
    """What to fetch for the train/dev/test entries, and what each archive must match.

    An archive without a pinned sha256 is also checked against the sha256 that `record` holds
    from an earlier run (trust on first use).
    """
    w = cfg.data.wmt14
    names = sorted({f.archive for f in [*w.train.values(), *w.dev, w.test]})
    unknown = [n for n in names if n not in w.archives]
    if unknown:
        raise ValueError(f"data.wmt14 names undefined archives {unknown}; add them to "
                         f"data.wmt14.archives in {config_file(cfg)}")
    recorded = record.get("sha256") or {}
    hint = (f'make repro-wmt14 WMT14_ARGS="{LOCAL_DIR}"' if cfg.data.name == MAKE_CORPUS
            else f"python -m rnnsearch.wmt14 data={cfg.data.name} {LOCAL_DIR}")
    specs = {}
    for n in names:
        a = w.archives[n]
        pins = Pins(a.sha256, a.md5, a.size, None if a.sha256 else recorded.get(n))
        specs[n] = Archive(n, (a.url, *a.mirrors), pins, config_file(cfg),
                           str(record_path(cfg)), w.allow_unpinned, hint)
    return specs


def fetch_archives(cfg: DictConfig, record: dict[str, Any] | None = None
                   ) -> tuple[dict[str, Path], dict[str, str]]:
    """Download (or find) and verify every archive the entries use, then unpack each.

    Nothing is unpacked before every archive is verified; the hashes also go to
    `<download_dir>/SHA256SUMS` (rewritten only when they change).

    Returns:
        (archive name -> unpacked directory, archive name -> sha256).
    """
    w = cfg.data.wmt14
    record = read_record(record_path(cfg)) if record is None else record
    specs, download_dir = archive_specs(cfg, record), Path(w.download_dir)
    local = Path(w.local_dir) if w.local_dir else None
    found = {name: obtain(spec, download_dir, local) for name, spec in specs.items()}
    unpacked = Path(cfg.data.raw_dir) / "unpacked"
    roots = {name: unpack(path, unpacked / name, sha) for name, (path, sha) in found.items()}
    hashes = {name: sha for name, (_, sha) in found.items()}
    sums = [f"{hashes[name]}  {specs[name].filename}" for name in specs]
    sums_file = download_dir / "SHA256SUMS"
    if not sums_file.is_file() or sums_file.read_text(encoding="utf-8").splitlines() != sums:
        atomic_write_lines(sums_file, sums)
    return roots, hashes


def _entries(w: DictConfig) -> list[tuple[str, DictConfig]]:
    """(config key, files) of every train, dev and test entry."""
    return ([(f"data.wmt14.train.{name}", f) for name, f in w.train.items()]
            + [(f"data.wmt14.dev[{k}]", f) for k, f in enumerate(w.dev)]
            + [("data.wmt14.test", w.test)])


def check_members(cfg: DictConfig, roots: dict[str, Path]) -> None:
    """One-line DataError naming the first entry whose member the unpacked archive lacks."""
    w = cfg.data.wmt14
    for key, files in _entries(w):
        for lang in ("en", "fr"):
            if not (roots[files.archive] / files[lang]).is_file():
                archive = Path(w.archives[files.archive].url).name or files.archive
                raise DataError(f"{archive} has no member {files[lang]} ({key}.{lang} in "
                                f"{config_file(cfg)})")


def _member(roots: dict[str, Path], files: DictConfig, lang: str) -> Path:
    return roots[files.archive] / files[lang]


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


def _append_lines(src: Path, out: BinaryIO) -> tuple[int, int]:
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
        with atomic_gzip(raw_dir / f"train.{lang}.gz") as out:
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


def layout_inputs(w: DictConfig, hashes: dict[str, str]) -> dict[str, Any]:
    """What the raw layout is made from: the archives' hashes, the entries, the selection."""
    keys = ["train", "dev", "test", "selection"]
    if w.selection:
        keys += ["selection_budget_tokens_fr", "general_lm_max_pairs"]
    plain = OmegaConf.to_container(w)  # (dicts, lists and values; JSON-comparable)
    return {"sha256": hashes, **{k: plain[k] for k in keys}}


def layout_files(w: DictConfig) -> list[str]:
    """The raw layout's files (relative to raw_dir) that `rnnsearch.prepare` reads."""
    test = "test.{}.sgm" if w.test.en.endswith(".sgm") else "test.{}"
    return [name.format(lang) for name in ("train.{}.gz", "dev.{}", test) for lang in ("en", "fr")]


def is_complete(record: dict[str, Any], inputs: dict[str, Any], raw_dir: Path) -> bool:
    """True when `record` says the raw layout was made from `inputs` and its files are there
    with the recorded sizes."""
    files = record.get("files")
    return (record.get("inputs") == inputs and bool(files)
            and all((raw_dir / name).is_file() and (raw_dir / name).stat().st_size == size
                    for name, size in files.items()))


def write_layout(cfg: DictConfig, roots: dict[str, Path], hashes: dict[str, str]
                 ) -> dict[str, Any]:
    """Write the raw layout (held-out sets, then the training pairs); return the summary."""
    w, raw_dir = cfg.data.wmt14, Path(cfg.data.raw_dir)
    summary: dict[str, Any] = {"sha256": hashes, **write_heldout(w, roots, raw_dir)}
    if not w.selection:
        summary.update(write_train_as_is(w, roots, raw_dir))
        log.info("WMT'14 raw data in %s: %d training pairs as published, dev %d, test %d",
                 raw_dir, summary["train_pairs"], summary["dev"], summary["test"])
        return summary
    summary.update(select_pairs(pool_files(w, roots, raw_dir),
                                (raw_dir / "dev.en", raw_dir / "dev.fr"),
                                w.selection_budget_tokens_fr, w.general_lm_max_pairs,
                                (raw_dir / "train.en.gz", raw_dir / "train.fr.gz"),
                                cfg.data.prepare_workers))
    log.info("WMT'14 raw data in %s: %d of %d pool pairs selected (%d French tokens)", raw_dir,
             summary["selected_pairs"], summary["pool_pairs"], summary["selected_tokens_fr"])
    return summary


def run(cfg: DictConfig) -> dict[str, Any]:
    """Download, verify, unpack, select and write the raw WMT'14 layout; return a summary.

    Nothing is fetched, unpacked or written again when the corpus record (`record_path`)
    says the layout is complete for the same archives and entries: a rerun leaves every file
    as it was. The record is written last; until then it holds only the archive hashes.
    """
    w, raw_dir = cfg.data.wmt14, Path(cfg.data.raw_dir)
    if not w.archives:
        raise ValueError(f"data={cfg.data.name} has no data.wmt14.archives; use data=wmt14_lium")
    path = record_path(cfg)
    record = read_record(path)
    roots, hashes = fetch_archives(cfg, record)
    inputs = layout_inputs(w, hashes)
    if is_complete(record, inputs, raw_dir):
        log.info("WMT'14 raw data in %s is complete (%s); nothing rewritten", raw_dir, path)
        return record
    check_members(cfg, roots)
    atomic_write_json(path, {"sha256": hashes})  # the hashes to hold to, until complete
    summary = write_layout(cfg, roots, hashes)
    files = {name: (raw_dir / name).stat().st_size for name in layout_files(w)}
    summary.update(inputs=inputs, files=files)
    atomic_write_json(path, summary)
    return summary
