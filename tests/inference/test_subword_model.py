"""A model trained on subword units (`data.units=bpe`): the DVC stages keep words in
test.hyp.tok and score them as sacreBLEU does, an unseen word gets pieces instead of [UNK], the
model directory translates on its own, the explorer shows pieces, and a missing or mismatched
sentencepiece model is one line naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig
from sacrebleu.metrics import BLEU
from tests.conftest import compose_config
from tests.data.test_parallel_text import TINY, write_corpus

from rnnsearch import Translator, evaluate, prepare, train, translate
from rnnsearch.data.moses import tokenize_line
from rnnsearch.data.subwords import MARKER, desegment, model_name
from rnnsearch.data.tokenized_pairs import encode_all
from rnnsearch.data.vocab import UNK, UNK_ID
from rnnsearch.evaluation import explorer
from rnnsearch.evaluation.evaluate_stage import unk_share
from rnnsearch.evaluation.translate_stage import hypothesis_lines
from rnnsearch.inference.translator import replace_unknowns

BPE = ("data.units=bpe", "data.subword_vocab_size=60", "trainer.max_steps=200",
       "trainer.val_check_interval=100", "trainer.checkpoint_every_n_steps=100",
       "decode.n_alignment_examples=2")
EXP = "rnnsearch_30"


def _cfg(root: Path, *overrides: str) -> DictConfig:
    return compose_config(root, *TINY, *BPE, f"data.raw_dir={root / 'corpus'}", *overrides)


@pytest.fixture(scope="module")
def bpe_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """prepare -> train (200 updates) -> translate -> evaluate on subwords."""
    root = tmp_path_factory.mktemp("bpe")
    write_corpus(root / "corpus", n_train=120)
    for stage in (prepare, train, translate, evaluate):
        stage.run(_cfg(root))
    return root


def test_hyp_tok_holds_words_and_metrics_equal_sacrebleu_on_the_files(bpe_root: Path) -> None:
    trans, prepared = bpe_root / "artifacts/translations" / EXP, bpe_root / "artifacts/prepared"
    hyp_tok = (trans / "test.hyp.tok").read_text(encoding="utf-8").splitlines()
    hyp_detok = (trans / "test.hyp.detok").read_text(encoding="utf-8").splitlines()
    assert len(hyp_tok) == 24 and MARKER not in "".join(hyp_tok)  # words, not pieces
    for tok, detok in zip(hyp_tok, hyp_detok, strict=True):  # the Moses tokens of the output
        assert UNK in detok or tokenize_line(detok, "en") == tok.split()
    metrics = evaluate.run(_cfg(bpe_root))
    ref_tok = (prepared / "parallel_text/test.en.tok").read_text(encoding="utf-8").splitlines()
    ref_raw = (prepared / "parallel_text/test.en.raw").read_text(encoding="utf-8").splitlines()
    tokenized = BLEU(tokenize="none", smooth_method="none", force=True)
    assert metrics["bleu"]["all"] == round(tokenized.corpus_score(hyp_tok, [ref_tok]).score, 2)
    assert metrics["bleu_detok"]["all"] == round(
        BLEU(tokenize="13a").corpus_score(hyp_detok, [ref_raw]).score, 2)
    assert metrics["unk_share"] == round(unk_share(hyp_tok, UNK), 4)
    assert metrics["n_sentences"]["no_unk"] == 24  # no piece of the test set is [UNK]


def test_hypothesis_lines_join_pieces_and_retokenize_words_stay_as_they_were() -> None:
    pieces = [["▁Le", "▁ch", "at", "▁dort", "▁.", "\""], ["▁", UNK, "s", "▁a", UNK, "▁."], []]
    tok, detok = hypothesis_lines(pieces, "bpe", "fr")
    assert detok == ["Le chat dort .\"", "[UNK] s a [UNK].", ""]
    assert tok == ["Le chat dort . \"", "[UNK] s a [UNK] .", ""]  # ".\"" is two Moses tokens
    assert hypothesis_lines([["a", "b"], []], "word", "en") == (["a b", ""], ["a b", ""])


def test_an_unseen_word_gets_pieces_and_no_unk(bpe_root: Path) -> None:
    tr = Translator.from_dir(bpe_root / "artifacts/models" / EXP)
    sentence = "der Hundekatze sieht die Baumkinder"  # neither compound is in the corpus
    pieces = tr.subwords[0].segment(sentence.split())
    assert UNK_ID not in encode_all(tr.src_vocab, [pieces])[0]
    best = tr.translate([sentence], ignore_unk=False)[0]
    assert best.source_tokens == pieces and best.attention.shape[1] == len(pieces) + 1
    assert UNK not in best.tokens and "[UNK]" not in best.text and best.text
    assert tr.translate([sentence])[0].text == best.text  # nothing to forbid: the same output


def test_replace_unk_copies_the_aligned_source_piece_then_joins_words() -> None:
    alpha = np.array([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1]])  # (T, S + 1)
    pieces = replace_unknowns(["▁the", UNK], ["▁Hund", "ekatze"], alpha)
    assert pieces == ["▁the", "ekatze"] and desegment(pieces) == ["theekatze"]


def test_the_moved_model_dir_translates_without_the_prepared_data(bpe_root: Path,
                                                                 tmp_path: Path) -> None:
    original = Translator.from_dir(bpe_root / "artifacts/models" / EXP)
    sentences = ["der Hund sieht die Katze", "die große Frau liest das Buch"]
    expected = [t.text for t in original.translate(sentences)]
    root = tmp_path / "copy"
    shutil.copytree(bpe_root, root)
    moved = tmp_path / "elsewhere" / "model"
    moved.parent.mkdir()
    (root / "artifacts/models" / EXP).rename(moved)
    shutil.rmtree(root / "artifacts/prepared")
    assert [t.text for t in Translator.from_dir(moved).translate(sentences)] == expected
    src, out = tmp_path / "in.de", tmp_path / "out.en"
    src.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    translate.run(_cfg(root, f"input={src}", f"output={out}", f"paths.model_dir={moved}"))
    assert out.read_text(encoding="utf-8").splitlines() == expected


def test_missing_or_mismatched_model_in_the_model_dir_is_one_line(bpe_root: Path,
                                                                  tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(bpe_root / "artifacts/models" / EXP, copy)
    (copy / model_name("en")).unlink()
    with pytest.raises(FileNotFoundError) as err:
        Translator.from_dir(copy)
    assert str(copy / model_name("en")) in str(err.value) and "\n" not in str(err.value)
    shutil.copyfile(copy / model_name("de"), copy / model_name("en"))  # the other language's
    with pytest.raises(ValueError) as err:
        Translator.from_dir(copy)
    msg = str(err.value)
    assert str(copy / model_name("en")) in msg and "does not match" in msg and "\n" not in msg


def test_alignments_and_the_explorer_are_over_pieces(bpe_root: Path) -> None:
    trans, prepared = bpe_root / "artifacts/translations" / EXP, bpe_root / "artifacts/prepared"
    text = explorer.read_test_text(prepared / "parallel_text", "de", "en")
    entry = explorer.model_entry("RNNsearch-30", trans, text)
    examples = explorer.load_attention(trans)
    for i, record in enumerate(entry["sentences"]):
        rows = examples[i].hyp_tokens
        assert record["h"] == " ".join(rows) and len(rows) + 1 >= examples[i].weights.shape[0]
    pieces = explorer.with_source_pieces(text, Translator.from_dir(
        bpe_root / "artifacts/models" / EXP).subwords[0])
    assert all(MARKER in line for line in pieces.src_tok)
    assert [len(s.split()) + 1 for s in pieces.src_tok] == [
        examples[i].weights.shape[1] for i in range(24)]  # alpha's columns: pieces and EOS
