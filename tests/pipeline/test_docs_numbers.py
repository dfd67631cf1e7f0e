"""Every number the pipeline produces has one home, `reports/`: README.md and docs/ either link
to it or quote it with a marker naming its source, `91.63<!-- reports/metrics/<exp>.json
bleu.all -->`, and a quote must equal its source. A number equal to a current metric of the
model named beside it, without a marker, is a hand copy that would drift silently: refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKED = re.compile(r"(\d+(?:\.\d+)?)<!-- (reports/\S+\.json) ([\w.]+) -->")
MODEL = re.compile(r"RNN(?:encdec|search)-(?:30|50)")
NUMBER = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.]|<!--)")


def _lookup(path: str, key: str) -> float:
    value = json.loads((ROOT / path).read_text())
    for part in key.split("."):
        value = value[part]
    return float(value)


def _quotes() -> list[tuple[str, str, str, str]]:
    found = []
    for doc in DOCS:
        for number, path, key in MARKED.findall(doc.read_text()):
            found.append((doc.name, number, path, key))
    return found


def _metric_values(experiment_label: str) -> set[str]:
    """Every value of the model's reports/metrics/<exp>.json, to two decimals."""
    exp = experiment_label.lower().replace("-", "_")
    path = ROOT / "reports" / "metrics" / f"{exp}.json"
    values: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for child in node.values():
                walk(child)
        elif isinstance(node, int | float):
            values.add(f"{node:.2f}")

    if path.is_file():
        walk(json.loads(path.read_text()))
    return values


def test_docs_quote_reports_through_markers() -> None:
    assert _quotes(), "docs/results.md quotes the demo run's BLEU through markers"


@pytest.mark.parametrize("doc,number,path,key", _quotes())
def test_a_quoted_number_equals_its_source(doc: str, number: str, path: str, key: str) -> None:
    decimals = len(number.split(".")[1]) if "." in number else 0
    assert number == f"{_lookup(path, key):.{decimals}f}", (
        f"{doc} quotes {number} from {path} {key}, which now holds {_lookup(path, key)}")


def test_no_unmarked_copy_of_a_current_metric() -> None:
    copies = []
    for doc in DOCS:
        for line_no, line in enumerate(doc.read_text().splitlines(), 1):
            for model in MODEL.finditer(line):
                values = _metric_values(model.group())
                following = line[model.end():model.end() + 60]
                following = MODEL.split(following)[0]  # up to the next model's name
                copies += [f"{doc.name}:{line_no}: {model.group()} {n}"
                           for n in NUMBER.findall(following) if n in values]
    assert not copies, ("numbers copied from reports/metrics without a marker "
                        f"(quote as N<!-- reports/metrics/<exp>.json <key> -->): {copies}")
