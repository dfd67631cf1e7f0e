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


def test_max_words_keeps_the_pairs_short_on_both_sides_in_every_split(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    shared = str(_shared(tmp_path / "real"))
    assert real_corpus.main([str(out), "--shared", shared, "--max-words", "3"]) == 0
    en = (out / "train.en").read_text(encoding="utf-8").splitlines()
    fr = (out / "train.fr").read_text(encoding="utf-8").splitlines()
    assert en == ["We agree."] and fr == ["D'accord."]  # "It is a good idea." has 5 words
    assert (out / "dev.en").read_text(encoding="utf-8") == "dev en\n"  # 2 words each side


def test_without_the_shared_data_it_says_so_and_exits_cleanly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert real_corpus.main([str(tmp_path / "out"), "--shared", str(tmp_path / "none")]) == 0
    assert "not found; nothing to build" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_units_runs_every_stage_per_unit_and_prints_the_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    commands: list[tuple[str, ...]] = []

    def fake_stage(*args: str) -> None:  # what evaluate and train leave behind
        commands.append(args)
        root = Path(next(a for a in args if a.startswith("paths.root_dir=")).split("=", 1)[1])
        exp = next((a.split("=", 1)[1] for a in args if a.startswith("experiment=")), None)
        if args[1] == "rnnsearch.evaluate":
            for kind, body in (("metrics", '{"bleu": {"all": 12.5}}'),
                               ("details", '{"unk_share": 0.012}')):
                (root / "reports" / kind).mkdir(parents=True, exist_ok=True)
                (root / "reports" / kind / f"{exp}.json").write_text(body)
            (root / "artifacts/models" / exp).mkdir(parents=True, exist_ok=True)
            (root / "artifacts/models" / exp / "summary.json").write_text(
                '{"updates": 900, "epochs": 1.5, "hours": 0.25, "stop_reason": "time_limit", '
                '"budget": {"updates": 950}}')

    monkeypatch.setattr(real_corpus, "_stage", fake_stage)
    out = tmp_path / "corpus"
    assert real_corpus.main([str(out), "--shared", str(_shared(tmp_path / "real")),
                             "--root", str(tmp_path / "m"), "--units", "word", "bpe", "--",
                             "trainer.max_time=00:00:01:00"]) == 0
    stages = [c[1] for c in commands]
    assert stages == ["rnnsearch.prepare", "rnnsearch.train_many", *["rnnsearch.translate",
                                                                     "rnnsearch.evaluate"] * 2] * 2
    for units, block in (("word", commands[:6]), ("bpe", commands[6:])):
        assert all(f"data.units={units}" in c and "trainer.max_time=00:00:01:00" in c
                   and f"paths.root_dir={(tmp_path / 'm' / units).resolve()}" in c for c in block)
    table = capsys.readouterr().out.splitlines()
    assert "| bpe | rnnencdec_30 | 12.5 | 1.2% | 900 of 950 | 1.50 | 15.0 | time_limit |" in table
    assert sum(line.startswith("| word |") for line in table) == 2
