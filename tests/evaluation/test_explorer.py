"""The alignment explorer's data: matrix sizes and rounding, buckets, BLEU and HTML escaping."""

from __future__ import annotations

import json
import re

import numpy as np

from rnnsearch.evaluation import explorer

HALF_LEVEL = 0.5 / explorer.LEVELS + 1e-6  # the most a stored alpha may be off


def _page(explorer_files) -> dict:
    prepared, trans, _ = explorer_files
    text = explorer.read_test_text(prepared, "en", "fr")
    names, buckets = explorer.bucket_labels([len(s.split()) for s in text.src_tok], [10], 0)
    return explorer.page_data(explorer.sentence_entries(text, buckets),
                              [explorer.model_entry("RNNsearch-50", trans, text)], names)


def test_matrix_round_trip_within_half_a_level() -> None:
    alpha = np.random.default_rng(0).dirichlet(np.full(7, 0.2), size=5)  # (T, S) = (5, 7)
    alpha[2] = 0.0  # an all-zero row
    cells = explorer.encode_matrix(alpha)
    assert cells.count(",") == 4 and set(cells) <= set(explorer.DIGITS) | {",", "."}
    back = explorer.decode_matrix(cells, 7)
    assert back.shape == (5, 7) and np.abs(back - alpha).max() <= HALF_LEVEL
    top = explorer.DIGITS[-1]
    assert explorer.encode_matrix(np.array([[0.0, 0.0, 1.0, 0.0]])) == "2." + top  # zeros cut
    assert explorer.encode_matrix(np.array([[1 / 35, 0.0, 1.0]])) == "0.10" + top


def test_page_has_every_sentence_and_matrices_of_the_words_shown(explorer_files) -> None:
    data = _page(explorer_files)
    _, _, alphas = explorer_files
    sentences = data["models"][0]["sentences"]
    assert data["buckets"] == ["0-9", "10+"]
    assert [t["k"] for t in data["test"]] == ["0-9", "10+", "0-9", "0-9"]
    assert len(sentences) == len(data["test"]) == 4
    for i, (t, s) in enumerate(zip(data["test"], sentences, strict=True)):
        if i not in alphas:
            assert "a" not in s
            continue
        rows, cols = alphas[i].shape
        assert cols == s["w"] == len(t["s"].split()) + 1  # source words + EOS
        assert rows == s["a"].count(",") + 1 == len(s["h"].split()) + 1  # hypothesis + EOS
        assert np.abs(explorer.decode_matrix(s["a"], cols) - alphas[i]).max() <= HALF_LEVEL
    assert sentences[1]["b"] == 100.0  # hypothesis == reference
    assert 0.0 < sentences[0]["b"] < 100.0


def test_words_are_escaped_in_the_page(explorer_files) -> None:
    data = _page(explorer_files)
    data["test"][0]["s"] = "</script><b>&amp; bold"
    page = explorer.render_page(data, "a < b")
    assert "<b>&amp;" not in page and page.count("</script>") == 2
    assert "<title>a &lt; b</title>" in page
    raw = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    back = json.loads(raw.group(1))
    assert back["test"][0]["s"] == "</script><b>&amp; bold"
    assert back["test"][2]["s"] == "x < y & z"
    assert "http" not in page.split("</title>")[1]  # nothing fetched: no links out


def test_rnnencdec_translation_has_no_attention(tmp_path) -> None:
    from rnnsearch.evaluation.alignment import save_examples

    save_examples(tmp_path / explorer.EXAMPLE_ATTENTION, [])  # what translate writes for it
    assert not explorer.has_attention(tmp_path)
    (tmp_path / "test.ref.align").write_text("0-0\n")  # RNNsearch: reference links
    assert explorer.has_attention(tmp_path)


def test_figure_3_examples_are_the_fallback_of_the_full_attention_file(explorer_files) -> None:
    from rnnsearch.evaluation.alignment import load_examples, save_examples

    prepared, trans, alphas = explorer_files
    text = explorer.read_test_text(prepared, "en", "fr")
    full = trans / explorer.FULL_ATTENTION
    examples = [e for e in load_examples(full) if e.index == 3]
    save_examples(trans / explorer.EXAMPLE_ATTENTION, examples)  # Figure 3's: sentence 3 only
    both = explorer.model_entry("m", trans, text)["sentences"]
    assert [("a" in s) for s in both] == [True, True, False, True]  # the full file wins
    full.unlink()
    fallback = explorer.model_entry("m", trans, text)["sentences"]
    assert [("a" in s) for s in fallback] == [False, False, False, True]
    assert fallback[3]["a"] == explorer.encode_matrix(alphas[3])
