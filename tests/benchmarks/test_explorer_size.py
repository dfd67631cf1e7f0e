"""benchmarks/explorer_size.py's synthetic test set: the embedded corpus's lengths, a valid page."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import explorer_size  # noqa: E402

from rnnsearch.evaluation import explorer  # noqa: E402


def test_synthetic_lengths_fill_every_figure2_bucket_equally() -> None:
    lengths = np.array(explorer_size.synthetic_lengths(1400, np.random.default_rng(0)))
    assert lengths.min() >= 1 and lengths.max() <= 70
    counts = np.bincount(np.searchsorted(explorer_size.EDGES, lengths, side="right"))
    assert counts.tolist() == [200] * 7  # the embedded test set: 200 per bucket


def test_synthetic_page_has_a_matrix_per_sentence(tmp_path: Path) -> None:
    page = tmp_path / "alignments.html"
    explorer_size.synthetic_page(14, 2, page)
    raw = re.search(r'id="data">(.*?)</script>', page.read_text("utf-8"), re.S).group(1)
    data = json.loads(raw)
    assert len(data["test"]) == 14 and len(data["models"]) == 2
    for t, s in zip(data["test"], data["models"][1]["sentences"], strict=True):
        alpha = explorer.decode_matrix(s["a"], s["w"])  # (T, S)
        assert alpha.shape == (len(s["h"].split()) + 1, len(t["s"].split()) + 1)
        np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=alpha.shape[1] / 70)
