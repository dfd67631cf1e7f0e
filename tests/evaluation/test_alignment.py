"""Figure 3 heat maps: example choice, npz round trip, PNG written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnsearch.evaluation.alignment import (
    alignment_error_rate,
    argmax_links,
    choose_examples,
    format_pharaoh,
    has_crossing,
    load_examples,
    parse_pharaoh,
    reference_attention,
    sharpness,
)
from rnnsearch.evaluation.alignment import save_examples as save
from rnnsearch.heatmap import AlignmentExample, plot_alignment


def _example(index: int = 3) -> AlignmentExample:
    rng = np.random.default_rng(0)
    alpha = rng.random((4, 4))
    alpha /= alpha.sum(axis=1, keepdims=True)
    return AlignmentExample(index, ["the", "économique", "area"], ["la", "zone", "é"], alpha)


def test_choose_examples_is_deterministic_and_moderate() -> None:
    lengths = [3, 12, 40, 15, 22, 9, 18, 30]
    picks = choose_examples(lengths, 2)
    assert picks == choose_examples(lengths, 2)
    assert all(10 <= lengths[i] <= 25 for i in picks) and len(set(picks)) == 2
    assert 1 not in choose_examples(lengths, 2, exclude=[i == 1 for i in range(8)])


def test_choose_examples_fills_up_when_too_few_candidates() -> None:
    assert choose_examples([3, 40, 12], 3) == [0, 1, 2]


def test_attention_npz_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "attention.npz"
    save(path, [_example(3), _example(7)])
    loaded = load_examples(path)
    assert [e.index for e in loaded] == [3, 7]
    assert loaded[0].src_tokens == ["the", "économique", "area"]
    assert np.allclose(loaded[1].weights, _example().weights)
    save(path, [])
    assert load_examples(path) == []


def test_plot_alignment_writes_png(tmp_path: Path) -> None:
    out = plot_alignment(_example(), tmp_path / "fig" / "alignment_1.png", title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sharpness_is_one_for_uniform_and_length_for_one_hot() -> None:
    assert sharpness(np.full((3, 4), 0.25)) == 1.0
    assert sharpness(np.eye(4)) == 4.0


def test_aer_on_hand_made_alignments() -> None:
    """AER = 1 - 2|A n G| / (|A| + |G|), summed over the corpus."""
    gold = [parse_pharaoh("0-0 1-2 2-1"), parse_pharaoh("0-0 0-1")]
    assert alignment_error_rate(gold, gold) == 0.0
    predicted = [{(0, 0), (1, 1), (2, 2)}, {(0, 0)}]  # 2 hits; |A| = 4, |G| = 5
    assert alignment_error_rate(predicted, gold) == pytest.approx(1 - 4 / 9)
    assert alignment_error_rate([{(5, 5)}], [{(0, 0)}]) == 1.0
    with pytest.raises(ValueError, match="1 predicted alignments for 2 gold"):
        alignment_error_rate(predicted[:1], gold)


def test_pharaoh_round_trip_and_bad_line() -> None:
    links = parse_pharaoh("2-1 0-0 1-2")
    assert links == {(0, 0), (1, 2), (2, 1)}
    assert parse_pharaoh(format_pharaoh(links)) == links
    with pytest.raises(ValueError, match="not a Pharaoh alignment line"):
        parse_pharaoh("0-0 x")


def test_argmax_links_skip_eos_and_crossings() -> None:
    alpha = np.array([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.0, 0.0, 1.0]])  # (T=3, S=3), EOS last
    links = argmax_links(alpha, n_src=2, n_tgt=2)
    assert links == {(1, 0), (0, 1)}  # the EOS row/column are not words
    assert has_crossing(links)  # "economic area" -> "zone économique"
    assert not has_crossing({(0, 0), (1, 1), (1, 2)})


def test_reference_attention_is_teacher_forced(toy_model) -> None:
    """One row per reference word + EOS, one column per source word + EOS; rows sum to 1, and
    the rows equal the stepwise teacher-forced alpha of the model."""
    model = toy_model(attention=True)
    srcs = [np.array([5, 6, 7]), np.array([8, 9])]
    tgts = [np.array([10, 11]), np.array([12, 4, 5, 6])]
    alphas = reference_attention(model, srcs, tgts, batch_size=2, device=torch.device("cpu"))
    assert [a.shape for a in alphas] == [(3, 4), (5, 3)]
    for a in alphas:
        np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-5)
    single = reference_attention(model, srcs[1:], tgts[1:], batch_size=1,
                                 device=torch.device("cpu"))
    np.testing.assert_allclose(single[0], alphas[1], atol=1e-6)  # padding changes nothing
