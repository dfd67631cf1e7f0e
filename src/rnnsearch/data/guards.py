"""Guards that stop a run whose corpus, scale and prepared data do not belong together.

Paper: Sec. 4.1 (30,000-word shortlists on WMT'14) and Sec. 4.2 (model sizes). `scale=demo`
shrinks the shortlist to 700 words and the model to toy sizes; on WMT'14 that silently gives a
model that cannot be compared with Table 1, so it is refused. `prepare` records the settings that
shape its output in stats.json (`prepared_settings`); training refuses prepared data made under
other settings. Every error is one line that names the scale and the command that fixes it.
Not responsible for checking the config schema (config.py) or checkpoint contents (checkpoint.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PAPER_SCALE_CORPORA = {"wmt14_en_fr": "paper"}  # corpus -> the only scale it may run at
# stats.json key -> the override that sets it (named in errors)
_OVERRIDE = {"data": "data", "scale": "scale", "vocab_size": "data.vocab_size",
             "prepare_max_len": "data.prepare_max_len", "vocab_coverage": "data.vocab_coverage",
             "vocab_max": "data.vocab_max"}


def check_corpus_scale(cfg: Any) -> None:
    """Raise one line unless `cfg.data.name` may run at `cfg.scale_name`.

    Raises:
        ValueError: e.g. `data=wmt14_en_fr` with `scale=demo`.
    """
    need = PAPER_SCALE_CORPORA.get(cfg.data.name)
    if need is not None and cfg.scale_name != need:
        raise ValueError(
            f"data={cfg.data.name} needs scale={need}, not scale={cfg.scale_name} (a "
            f"{cfg.data.vocab_size}-word shortlist and toy model sizes); add `scale={need}`"
        )


def prepared_settings(cfg: Any) -> dict[str, Any]:
    """The settings that shape `prepare`'s output; stats.json records them."""
    settings = {"data": cfg.data.name, "scale": cfg.scale_name, "vocab_size": cfg.data.vocab_size,
                "prepare_max_len": cfg.data.prepare_max_len}
    if cfg.data.vocab_size == "auto":  # the sizes then depend on these too
        settings |= {"vocab_coverage": cfg.data.vocab_coverage, "vocab_max": cfg.data.vocab_max}
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
    if diff:
        other = f" or run with scale={stats['scale']}" if "scale" in stats else ""
        raise ValueError(
            f"{Path(cfg.data.prepared_dir) / 'stats.json'} was prepared with {', '.join(diff)}; "
            f"prepare again with `python -m rnnsearch.prepare data={cfg.data.name} "
            f"scale={cfg.scale_name}`{other}"
        )
