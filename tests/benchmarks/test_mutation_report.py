"""benchmarks/mutation.py without mutmut: the seeded sample and the per-module score."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import mutation  # noqa: E402

CODES = {  # module file -> {mutant: mutmut exit code}; None: not run
    "rnnsearch/data/vocab.py": {f"rnnsearch.data.vocab.x_f__mutmut_{k}": c for k, c in
                                enumerate([1, 1, 1, 0, 0, 33, None, 36], start=1)},
    "rnnsearch/config_checks.py": {**{f"rnnsearch.config_checks.x_check_ranges__mutmut_{k}": 1
                               for k in range(1, 5)},
                            **{f"rnnsearch.config_checks.x_register_configs__mutmut_{k}": 0
                               for k in range(1, 40)}},
}


@pytest.fixture
def mutants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for path, codes in CODES.items():
        meta = tmp_path / "mutants" / "src" / f"{path}.meta"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"exit_code_by_key": codes}), "utf-8")
    equivalent = tmp_path / "equivalent.txt"
    equivalent.write_text("# comment\nrnnsearch.data.vocab.x_f__mutmut_5  # why\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mutation, "EQUIVALENT", equivalent)
    return tmp_path


def test_report_counts_per_module_leaving_out_equivalents_and_unrun(mutants: Path) -> None:
    rows = {r.get("module", r.get("function")): r for r in mutation.report(functions=True)}
    vocab = rows["rnnsearch.data.vocab"]
    assert (vocab["killed"], vocab["survived"], vocab["no_tests"], vocab["equivalent"],
            vocab["tried"]) == (4, 1, 1, 1, 7)  # a timeout is killed; None is not tried
    assert vocab["score"] == round(4 / 6, 3)
    assert rows["all"]["tried"] == 7 + 43 and rows["all"]["killed"] == 8
    assert rows["rnnsearch.config_checks.x_register_configs"]["survived"] == 39


def test_sample_is_seeded_per_module_and_keeps_only_configs_range_check(mutants: Path) -> None:
    first, again = mutation.sample(25, 0, least=3), mutation.sample(25, 0, least=3)
    assert first == again
    assert sum("vocab" in n for n in first) == 3  # max(3, ceil(25% of 8))
    config = [n for n in first if "config" in n]
    assert len(config) == 3 and all("x_check_ranges" in n for n in config)
    assert len(mutation.sample(100, 0)) == 8 + 4  # everything in scope
