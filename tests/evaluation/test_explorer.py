"""The alignment explorer's data: matrix sizes and rounding, buckets, BLEU and HTML escaping."""

from __future__ import annotations

import json
import re

import numpy as np

from rnnsearch.evaluation import explorer


def _entry(explorer_files):
    prepared, trans, _ = explorer_files
    text = explorer.read_test_text(prepared, "en", "fr")
    names, buckets = explorer.bucket_labels([len(s.split()) for s in text.src_tok], [10], 0)
    return names, explorer.model_entry("RNNsearch-50", trans, text, buckets)


def test_matrix_round_trip_within_half_a_level() -> None:
    alpha = np.random.default_rng(0).dirichlet(np.ones(7), size=5)  # (T, S) = (5, 7)
    cells = explorer.encode_matrix(alpha)
    assert len(cells) == 5 * 7 and set(cells) <= set(explorer.DIGITS)
    back = explorer.decode_matrix(cells, 7)
    assert back.shape == (5, 7)
    assert np.abs(back - alpha).max() <= 0.5 / explorer.LEVELS + 1e-12
    assert explorer.encode_matrix(np.array([[0.0, 1.0]])) == "0" + explorer.DIGITS[-1]


def test_entry_has_every_sentence_and_matrices_of_the_words_shown(explorer_files) -> None:
    names, entry = _entry(explorer_files)
    _, _, alphas = explorer_files
    sentences = entry["sentences"]
    assert names == ["0-9", "10+"] and [s["k"] for s in sentences] == ["0-9", "10+", "0-9", "0-9"]
    for i, s in enumerate(sentences):
        if i not in alphas:
            assert "a" not in s
            continue
        rows, cols = alphas[i].shape
        assert (s["w"], len(s["a"])) == (cols, rows * cols)
        assert cols == len(s["s"].split()) + 1 and rows == len(s["h"].split()) + 1
        assert np.abs(explorer.decode_matrix(s["a"], cols) - alphas[i]).max() <= 0.5 / 35 + 1e-6
    assert sentences[1]["b"] == 100.0  # hypothesis == reference
    assert 0.0 < sentences[0]["b"] < 100.0


def test_words_are_escaped_in_the_page(explorer_files) -> None:
    names, entry = _entry(explorer_files)
    entry["sentences"][0]["s"] = "</script><b>&amp; bold"
    page = explorer.render_page(explorer.page_data([entry], names), "a < b")
    assert "<b>&amp;" not in page and page.count("</script>") == 2
    assert "<title>a &lt; b</title>" in page
    raw = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    data = json.loads(raw.group(1))
    assert data["models"][0]["sentences"][0]["s"] == "</script><b>&amp; bold"
    assert data["models"][0]["sentences"][2]["s"] == "x < y & z"
    assert "http" not in page.split("</title>")[1]  # nothing fetched: no links out
