"""The prepare memory benchmark: a LIUM-like synthetic corpus, and its JSON lines."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import prepare_memory  # noqa: E402


def test_synthetic_corpus_has_lium_lengths_entities_and_europarl_type_counts(tmp_path: Path
                                                                            ) -> None:
    prepare_memory.write_corpus(tmp_path / "raw", 16000)
    sides = {lang: gzip.decompress((tmp_path / "raw" / f"train.{lang}.gz").read_bytes())
             .decode().splitlines() for lang in ("en", "fr")}
    lengths = {lang: np.array([len(line.split()) for line in lines])
               for lang, lines in sides.items()}
    assert 23 < lengths["en"].mean() < 27 and 27 < lengths["fr"].mean() < 31  # LIUM: 25 / 29
    assert 0.08 < np.mean(np.maximum(lengths["en"], lengths["fr"]) > 50) < 0.2
    assert any("&apos;" in line for line in sides["fr"][:100])  # escaped as LIUM publishes
    words = " ".join(sides["en"]).split()[:371_409]
    assert 15_000 < len(set(words)) < 25_000  # the tokenized Europarl sample: 19,047 types
    assert len((tmp_path / "raw" / "test.fr").read_text().splitlines()) == 3003


def test_one_json_line_per_size_and_a_summary(tmp_path: Path) -> None:
    script = Path(prepare_memory.__file__)
    out = subprocess.run([sys.executable, str(script), "--pairs", "1500,3000",
                          "--workdir", str(tmp_path)], check=True, capture_output=True,
                         text=True, timeout=600)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line.get("pairs") for line in lines] == [1500, 3000, None]
    for line in lines[:2]:
        assert line["prepare_peak_rss_mb"] > 50 and line["prepare_pairs_per_s"] > 0
        assert line["train_data_rss_mb"] >= 0 and line["kept_pairs"] < line["pairs"]
        assert line["cpu"] and isinstance(line["avx512f"], bool)
    assert lines[2]["summary"] and lines[2]["ratio_of"] == [3000, 1500]
    assert list(tmp_path.iterdir()) == []  # each size's corpus is removed
