"""GroundHog's fallback sequence (`DecodeSettings.retry`) and the settings' one-line checks."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
import torch
from omegaconf import OmegaConf

from rnnsearch.config import DecodeConfig, LengthRule
from rnnsearch.decoding.settings import DecodeSettings


def test_retry_allows_unk_first_then_doubles_the_beam_up_to_its_limit() -> None:
    first = DecodeSettings(beam_size=10, ignore_unk=True, fallback="groundhog",
                           fallback_max_beam=40)
    attempts = [first]
    while (nxt := attempts[-1].retry()) is not None:
        attempts.append(nxt)
    assert [(s.ignore_unk, s.beam_size) for s in attempts] == [
        (True, 10), (False, 10), (False, 20), (False, 40)]
    assert all(s.ignore_unk is False for s in attempts[1:])
    assert {s.fallback_max_beam for s in attempts} == {40}


@pytest.mark.parametrize("settings", [DecodeSettings(fallback="none"),
                                      DecodeSettings(fallback="none", ignore_unk=True),
                                      DecodeSettings(fallback="groundhog", greedy=True)],
                         ids=["none", "none-ignore-unk", "greedy"])
def test_no_retry_without_the_groundhog_fallback_or_for_greedy(settings) -> None:
    assert settings.retry() is None


@pytest.mark.parametrize(("changes", "message"), [
    ({"n_best": 4, "beam_size": 3}, "n_best in 1..beam_size, got 3, 32, 4"),
    ({"batch_size": 0}, "got 10, 0, 1")])
def test_bad_settings_are_refused_in_one_line(changes: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        DecodeSettings(**changes)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("changes", "message"), [
    ({"length_rule": "ratios"}, "decode.length_rule must be one of groundhog|ratio, got 'ratios'"),
    ({"fallback": "GroundHog"}, "decode.fallback must be one of none|groundhog, got 'GroundHog'")])
def test_a_choice_outside_its_values_is_refused_in_one_line(changes: dict, message: str) -> None:
    """A Python caller's typo (the config refuses it when composed; this object is also built
    directly), instead of silently taking the other branch of `length_limits`."""
    with pytest.raises(ValueError) as err:
        DecodeSettings(**changes)
    assert str(err.value) == message


def test_to_dict_records_every_field_as_plain_json_values() -> None:
    settings = DecodeSettings.from_config(
        OmegaConf.structured(DecodeConfig(length_rule=LengthRule.ratio, beam_size=3)))
    record = settings.to_dict()
    assert set(record) == {f.name for f in fields(DecodeSettings)}
    assert record["length_rule"] == "ratio" and type(record["length_rule"]) is str
    assert record["beam_size"] == 3 and record["max_input_tokens"] == 400
    assert DecodeSettings(**json.loads(json.dumps(record))) == settings


def test_from_config_copies_every_search_field_and_takes_changes() -> None:
    dcfg = {"beam_size": 4, "length_rule": "ratio", "max_len_ratio": 1.5, "max_len_offset": 3,
            "length_normalize": True, "batch_size": 7, "n_best": 2, "fallback": "groundhog",
            "fallback_max_beam": 16, "n_alignment_examples": 9}  # the last is not a search field
    expected = DecodeSettings(beam_size=4, length_rule="ratio", max_len_ratio=1.5,
                              max_len_offset=3, length_normalize=True, batch_size=7, n_best=2,
                              fallback="groundhog", fallback_max_beam=16)
    assert DecodeSettings.from_config(dcfg) == expected
    assert DecodeSettings.from_config(dcfg, n_best=1, greedy=True) == DecodeSettings(
        **{**expected.__dict__, "n_best": 1, "greedy": True})


def test_a_batch_of_one_is_allowed_and_limits_use_ratio_and_offset() -> None:
    one = DecodeSettings(batch_size=1, beam_size=1, length_rule="ratio", max_len_ratio=1.5,
                         max_len_offset=3)
    caps, mins = one.limits(torch.tensor([4, 10]))
    assert caps.tolist() == [9, 18] and mins.tolist() == [0, 0]  # floor(1.5 |x| + 3)
