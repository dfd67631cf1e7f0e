"""Decoding details outside the search loop: the corpus batch order's error, the NaN error's
named rows, and `length_limits`' defaults."""

from __future__ import annotations

import pytest
import torch

from rnnsearch.decoding import beam_select, search
from rnnsearch.decoding.batches import batch_order


def test_an_unknown_batch_order_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match=r"^batch order must be one of "
                                         r"shortest_first\|longest_first\|input, got 'random'$"):
        batch_order([3, 1, 2], 2, "random")


def test_nan_log_probs_stop_the_search_naming_the_step_and_rows() -> None:
    log_probs = torch.zeros(4, 5)  # (beam rows, V)
    log_probs[1, 0] = log_probs[3, 2] = log_probs[3, 4] = float("nan")
    with pytest.raises(FloatingPointError) as err:
        beam_select.check_finite(log_probs, 7)
    assert str(err.value) == (
        "beam search: the model's log-probabilities are NaN at step 7 (beam rows [1, 3]); "
        "the checkpoint's weights or the computation are not finite")
    beam_select.check_finite(torch.full((2, 3), -float("inf")), 1)  # -inf is a forbidden word


def test_length_limits_ratio_defaults_to_twice_the_source_plus_10() -> None:
    lengths = torch.tensor([0, 4, 13])
    caps, mins = search.length_limits(lengths, "ratio")
    assert caps.tolist() == [10, 18, 36] and mins.tolist() == [0, 0, 0]
    caps, mins = search.length_limits(lengths, "groundhog")
    assert caps.tolist() == [3, 15, 42] and mins.tolist() == [0, 2, 7]
