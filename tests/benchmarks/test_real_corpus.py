"""benchmarks/real_corpus.py on a hand-made copy of the shared layout, and without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import real_corpus  # noqa: E402

RAW = {"en": ["It is a good idea.", "We agree."], "fr": ["C'est une bonne idée.", "D'accord."]}
TOK = {"en": ["We agree .", "It &apos;s the people &apos;s health ."],  # 1st: already in raw
       "fr": ["D&apos; accord .", "C&apos; est la santé des gens ."]}


def _shared(root: Path) -> Path:
    for kind, sides in (("raw", RAW), ("tok", TOK)):
        for lang, lines in sides.items():
            path = root / real_corpus.EUROPARL.format(kind=kind, lang=lang)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{s}\n" for s in lines), encoding="utf-8")
    for split, pattern in real_corpus.NEWSTEST.items():
        for lang in real_corpus.LANGS:
            path = root / pattern.format(lang=lang)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{split} {lang}\n", encoding="utf-8")
    return root


def test_train_is_raw_plus_the_new_tokenized_pairs_detokenized(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    assert real_corpus.main([str(out), "--shared", str(_shared(tmp_path / "real"))]) == 0
    en = (out / "train.en").read_text(encoding="utf-8").splitlines()
    fr = (out / "train.fr").read_text(encoding="utf-8").splitlines()
    assert en == [*RAW["en"], "It's the people's health."]  # "We agree ." was a duplicate
    assert fr == [*RAW["fr"], "C'est la santé des gens."]
    assert (out / "dev.fr").read_text(encoding="utf-8") == "dev fr\n"
    assert (out / "test.en").read_text(encoding="utf-8") == "test en\n"


def test_without_the_shared_data_it_says_so_and_exits_cleanly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert real_corpus.main([str(tmp_path / "out"), "--shared", str(tmp_path / "none")]) == 0
    assert "not found; nothing to build" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
