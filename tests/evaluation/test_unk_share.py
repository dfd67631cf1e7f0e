"""The [UNK] share of output tokens, on a hand-made hypothesis file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnsearch.evaluation.evaluate_stage import unk_share
from rnnsearch.evaluation.paper_tables import quality_table

HYPOTHESES = ["Nous [UNK] des [UNK] .", "As-tu un [UNK] ?", "", "[UNK] maintenant .",
              "le [UNK]-like mot"]  # "[UNK]-like" is a word, not the token


def test_unk_share_counts_unk_tokens_over_all_output_tokens(tmp_path: Path) -> None:
    path = tmp_path / "test.hyp.tok"
    path.write_text("".join(f"{line}\n" for line in HYPOTHESES), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    n_unk = 2 + 1 + 0 + 1 + 0
    n_tokens = 5 + 4 + 0 + 3 + 3
    assert unk_share(lines, "[UNK]") == n_unk / n_tokens
    assert unk_share(lines, "<unk>") == 0.0  # the configured token, not any bracketed word
    assert unk_share(["", ""], "[UNK]") == 0.0  # no output tokens at all


def test_results_md_shows_the_share_per_model() -> None:
    table = quality_table({"rnnsearch_30": {"distinct_outputs": 0.9, "unk_share": 0.25},
                           "rnnencdec_30": {"distinct_outputs": 0.8, "unk_share": 0.5}})
    header, _, *rows = table.splitlines()
    column = [c.strip() for c in header.split("|")].index("[UNK] share of output tokens")
    shown = [float(row.split("|")[column]) for row in rows]  # printed to 2 decimals
    assert shown == [pytest.approx(0.25, abs=0.005), pytest.approx(0.5, abs=0.005)]
