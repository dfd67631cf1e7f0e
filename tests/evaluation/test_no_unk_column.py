"""Table 1's No-UNK column is scored from translate's [UNK]-free decode when one was made."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnsearch.data.parallel_files import DataError
from rnnsearch.evaluation.evaluate_stage import no_unk_column_text

TEXT = {
    "hyp_tok": ["a [UNK]", "b", "c [UNK]", "d"], "hyp_detok": ["a [UNK]", "b", "c [UNK]", "d"],
    "ref_tok": ["a", "b", "c", "d"], "ref_raw": ["a", "b", "c", "d"],
}
INFO = {"ignore_unk": True, "no_unk_files": {"tok": "nu.tok", "detok": "nu.detok"}}


def _write(trans: Path, lines: list[str]) -> None:
    for ext in ("tok", "detok"):
        (trans / f"nu.{ext}").write_text("".join(f"{line}\n" for line in lines))


def test_no_unk_hypotheses_replace_the_subset_only(tmp_path: Path) -> None:
    _write(tmp_path, ["a x", "c y"])
    merged = no_unk_column_text(TEXT, [0, 2], tmp_path, INFO)
    assert merged["hyp_tok"] == ["a x", "b", "c y", "d"]
    assert merged["hyp_detok"] == ["a x", "b", "c y", "d"]
    assert merged["ref_tok"] == TEXT["ref_tok"] and TEXT["hyp_tok"][0] == "a [UNK]"  # no aliasing


def test_without_ignore_unk_decode_the_all_column_hypotheses_are_used(tmp_path: Path) -> None:
    assert no_unk_column_text(TEXT, [0, 2], tmp_path, {"ignore_unk": False}) is None
    assert no_unk_column_text(TEXT, [0, 2], tmp_path, {}) is None  # older translate.json


def test_no_unk_file_of_wrong_length_names_itself(tmp_path: Path) -> None:
    _write(tmp_path, ["a x"])
    with pytest.raises(DataError, match=r"nu\.tok has 1 lines but the test set has 2 No-UNK"):
        no_unk_column_text(TEXT, [0, 2], tmp_path, INFO)
