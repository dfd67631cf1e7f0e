"""Guards that stop a run whose corpus, scale and prepared data do not belong together.

Paper: Sec. 4.1 (30,000-word shortlists on WMT'14) and Sec. 4.2 (model sizes). `scale=demo`
shrinks the shortlist to 700 words and the model to toy sizes; on WMT'14 that silently gives a
model that cannot be compared with Table 1, so it is refused. `prepare` records the settings that
shape its output in stats.json (`prepared_settings`); training refuses prepared data made under
other settings. A checkpoint records the content hash of the prepared data it was trained on
(`prepared_data_hash`); translate and evaluate refuse prepared data with another hash (a
vocabulary re-prepared at the same size would silently give other words). A dev sentence longer
than `data.dev_max_len` is refused before it is teacher-forced. Every error is one line that
names the files and the command that fixes it.
Not responsible for checking the config schema (config.py) or checkpoint contents (checkpoint.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rnnsearch.data.parallel_files import DataError, load_split
from rnnsearch.file_hash import update_from_file

# the checkpoint entry where training records what it was trained from (its resume
# fingerprint, training/resume.py): translate and evaluate read its `prepared_data` hash
FINGERPRINT_KEY = "resume_fingerprint"
# corpus -> the only scale it may train a real model at
PAPER_SCALE_CORPORA = {"wmt14_en_fr": "paper", "wmt14_lium": "paper"}
# scales that only check that a recipe runs end to end (any corpus; `make repro-wmt14 SCALE=tiny`)
SMOKE_SCALES = frozenset({"tiny"})
# stats.json key -> the override that sets it (named in errors)
_OVERRIDE = {"data": "data", "scale": "scale", "vocab_size": "data.vocab_size",
             "prepare_max_len": "data.prepare_max_len", "vocab_coverage": "data.vocab_coverage",
             "vocab_max": "data.vocab_max", "vocab_count": "data.vocab_count",
             "units": "data.units", "subword_vocab_size": "data.subword_vocab_size"}


def check_corpus_scale(cfg: Any) -> None:
    """Raise one line unless `cfg.data.name` may run at `cfg.scale_name`.

    Raises:
        ValueError: e.g. `data=wmt14_en_fr` with `scale=demo`.
    """
    need = PAPER_SCALE_CORPORA.get(cfg.data.name)
    if need is not None and cfg.scale_name not in {need, *SMOKE_SCALES}:
        raise ValueError(
            f"data={cfg.data.name} needs scale={need}, not scale={cfg.scale_name} (a "
            f"{cfg.data.vocab_size}-word shortlist and toy model sizes); add `scale={need}`"
        )


def prepared_settings(cfg: Any) -> dict[str, Any]:
    """The settings that shape `prepare`'s output; stats.json records them."""
    settings = {"data": cfg.data.name, "scale": cfg.scale_name, "vocab_size": cfg.data.vocab_size,
                "prepare_max_len": cfg.data.prepare_max_len, "vocab_count": cfg.data.vocab_count}
    if cfg.data.vocab_size == "auto":  # the sizes then depend on these too
        settings |= {"vocab_coverage": cfg.data.vocab_coverage, "vocab_max": cfg.data.vocab_max}
    if cfg.data.get("units", "word") != "word":  # recorded only for subwords: words keep the bytes
        settings |= {"units": cfg.data.units, "subword_vocab_size": cfg.data.subword_vocab_size}
    return settings


def read_prepared_stats(prepared_dir: Path, data_name: str) -> dict[str, Any]:
    """stats.json of a finished `prepare` run (it is written last).

    Raises:
        FileNotFoundError: one line naming the command, if prepare did not finish.
    """
    path = Path(prepared_dir) / "stats.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"prepared data not found in {prepared_dir} (no stats.json); create it with "
            f"`python -m rnnsearch.prepare data={data_name}`"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def check_prepared_settings(cfg: Any) -> None:
    """Raise one line if `cfg.data.prepared_dir` was prepared under other settings than `cfg`.

    Raises:
        FileNotFoundError: prepare did not finish.
        ValueError: names the differing keys (scale, shortlist size, ...) and the fix.
    """
    stats = read_prepared_stats(Path(cfg.data.prepared_dir), cfg.data.name)
    diff = [f"{_OVERRIDE[k]}={stats.get(k, 'unrecorded')} (this run: {v})"
            for k, v in prepared_settings(cfg).items() if stats.get(k) != v]
    if "units" in stats and "units" not in prepared_settings(cfg):  # subwords, a word run
        diff.append(f"data.units={stats['units']} (this run: word)")
    if diff:
        other = f" or run with scale={stats['scale']}" if "scale" in stats else ""
        raise ValueError(
            f"{Path(cfg.data.prepared_dir) / 'stats.json'} was prepared with {', '.join(diff)}; "
            f"prepare again with `python -m rnnsearch.prepare data={cfg.data.name} "
            f"scale={cfg.scale_name}`{other}"
        )


def prepared_data_hash(prepared_dir: Path) -> str:
    """Content hash of a prepared data dir: vocabularies, text files and id arrays, byte for byte.

    stats.json is skipped (it is a summary of the rest), and so are `.`-files (a run's
    temporary files). prepare writes the same bytes for the same inputs, so a re-prepare of the
    same data keeps the hash.
    """
    h = hashlib.sha256()
    if not prepared_dir.is_dir():
        return "missing"
    for f in sorted(prepared_dir.iterdir()):
        if not f.is_file() or f.name.startswith(".") or f.name == "stats.json":
            continue
        h.update(f.name.encode())
        update_from_file(h, f)
    return h.hexdigest()[:16]


def check_checkpoint_data(trained_on: str | None, prepared_dir: Path, ckpt_path: Any) -> None:
    """Raise one line if the checkpoint was trained on other prepared data than `prepared_dir`.

    Args:
        trained_on: the checkpoint's recorded `prepared_data_hash` (None: not recorded, so
            nothing to compare).
        prepared_dir: the prepared data this run reads (its vocabularies map ids to words).
        ckpt_path: the checkpoint (named in the error).

    Raises:
        ValueError: names both, with the two hashes and the fix.
    """
    current = prepared_data_hash(Path(prepared_dir))
    if trained_on is not None and trained_on != current:
        raise ValueError(
            f"{ckpt_path} was trained on prepared data {trained_on} but {prepared_dir} is "
            f"{current} (re-prepared or edited since); train again or use the prepared data "
            "it was trained on"
        )


def check_dev_lengths(prepared_dir: Path, langs: tuple[str, str], max_len: int) -> None:
    """Raise one line naming file and line of the first dev sentence over `max_len` tokens.

    Dev is teacher-forced whole (dev NLL), so one runaway line (a lost newline) would make a
    (batch, length, vocab) logits tensor; `data.dev_max_len` sets the limit.

    Raises:
        DataError: `<prepared_dir>/dev.<lang>.tok:<line>: <n> tokens, over data.dev_max_len`.
    """
    dev = load_split(prepared_dir, "dev")
    for lang, side in zip(langs, (dev.src, dev.tgt), strict=True):
        for line_no, ids in enumerate(side, start=1):
            if len(ids) > max_len:
                raise DataError(
                    f"{Path(prepared_dir) / f'dev.{lang}.tok'}:{line_no}: {len(ids)} tokens, "
                    f"over data.dev_max_len={max_len} (teacher forcing it needs a (batch, "
                    f"{len(ids)}, vocab) logits tensor); fix the line (a lost newline?) in the "
                    "raw dev file and prepare again, or raise data.dev_max_len"
                )
