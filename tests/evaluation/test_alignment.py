"""Figure 3 heat maps: example choice, npz round trip, PNG written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnsearch.alignment import (
    AlignmentExample,
    choose_examples,
    load_examples,
    plot_alignment,
    sharpness,
)
from rnnsearch.alignment import save_examples as save


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
