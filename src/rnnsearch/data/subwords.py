"""Subword units (`data.units: bpe`, ours): sentencepiece BPE over the Moses tokens, per language.

Not in the paper (Sec. 4.1 uses 30k-word shortlists and [UNK]); Sennrich et al. (2016) came
later, and every maintained toolkit trains a user's corpus on subwords. The pipeline keeps its
Moses words: `prepare` trains one model per language on the Moses-tokenized training side,
segments every sentence's words into pieces, and the vocabulary is the piece vocabulary (so
[UNK] is left only for characters that training never saw). Decoding maps pieces back to the
same words (`desegment`), so `test.hyp.tok` and every score stay over words.

Exact round trip: a word of the input never holds a space, but may hold sentencepiece's word
marker "▁" (U+2581), which the model would read as a word boundary. `segment` escapes it (and the
escape character itself) before encoding and `desegment` undoes it, so for any list of Moses
tokens `desegment(segment(words)) == words`. Sentencepiece runs with the identity
normalisation, so no character is rewritten.
Not responsible for the id arrays (`train_encoding.py`, `prepare_stage.py`) or for decoding.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

from rnnsearch.data.parallel_files import DataError
from rnnsearch.data.vocab import SPECIALS, UNK, Vocabulary
from rnnsearch.io_utils import atomic_write_bytes

BPE = "bpe"  # data.units of this path (config.Units)
MARKER = "\u2581"  # sentencepiece's word-start marker ("▁")
ESCAPE = "\ue000"  # a private-use character: ESCAPE ESCAPE = ESCAPE, ESCAPE "_" = MARKER
_UNESCAPE = re.compile(f"{ESCAPE}(.)", re.DOTALL)
# sentencepiece's own advice: a sample of about a million sentences is enough to learn the merges
TRAIN_SENTENCES = 1_000_000
TRAIN_SEED = 1234  # the sample of a larger corpus is drawn with this seed: the same model twice


def model_name(lang: str) -> str:
    """File name of one language's sentencepiece model, in the prepared and model directories."""
    return f"spm.{lang}.model"


def escape_word(word: str) -> str:
    """`word` without the marker "▁", reversibly (`unescape_word`)."""
    return word.replace(ESCAPE, ESCAPE + ESCAPE).replace(MARKER, ESCAPE + "_")


def unescape_word(word: str) -> str:
    """Inverse of `escape_word`."""
    return _UNESCAPE.sub(lambda m: MARKER if m.group(1) == "_" else m.group(1), word)


def train_model(sentences: Iterable[str], vocab_size: int, path: Path, threads: int = 1) -> None:
    """Learn a BPE model of `vocab_size` pieces from Moses-tokenized lines; write it atomically.

    Args:
        sentences: the training side, one sentence per item, tokens separated by single spaces.
        vocab_size: `data.subword_vocab_size`: pieces, sentencepiece's [UNK] included (fewer on
            a corpus too small to have that many).
        path: the model file (written to a temporary file, then renamed).
        threads: sentencepiece's training threads.

    Raises:
        DataError: sentencepiece refused the text (e.g. no sentence at all), naming `path`.
    """
    escaped = (" ".join(map(escape_word, s.split(" "))) for s in sentences if s)
    model = io.BytesIO()
    spm.set_random_generator_seed(TRAIN_SEED)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=escaped, model_writer=model, model_type="bpe",
            vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
            normalization_rule_name="identity", remove_extra_whitespaces=False,
            split_by_whitespace=True, add_dummy_prefix=True, byte_fallback=False,
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, input_sentence_size=TRAIN_SENTENCES,
            shuffle_input_sentence=True, max_sentence_length=1 << 16, num_threads=threads,
            minloglevel=2)
    except RuntimeError as err:
        raise DataError(f"{path}: sentencepiece could not learn a model: "
                        f"{str(err).splitlines()[0]}") from None
    atomic_write_bytes(path, model.getvalue())


class SubwordModel:
    """One language's sentencepiece model: words -> pieces -> words.

    Args:
        path: a model written by `train_model` (named in every error).

    Raises:
        FileNotFoundError: one line naming `path`, if it does not exist.
        ValueError: one line naming `path`, if it is not a sentencepiece model.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: sentencepiece model not found (data.units=bpe "
                                    "needs the model prepare wrote beside the vocabulary)")
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.load(str(self.path))
        except (RuntimeError, OSError) as err:
            raise ValueError(f"{self.path}: not a sentencepiece model "
                             f"({str(err).splitlines()[0]})") from None

    def pieces(self) -> list[str]:
        """The model's pieces in id order, without its unknown and control symbols and without
        any piece spelled like one of our specials (such a piece is read as [UNK])."""
        sp = self._sp
        return [sp.id_to_piece(i) for i in range(sp.get_piece_size())
                if not (sp.is_unknown(i) or sp.is_control(i))
                and sp.id_to_piece(i) not in SPECIALS]

    def vocabulary(self) -> Vocabulary:
        """The piece vocabulary: our four specials, then the pieces in the model's order."""
        return Vocabulary([*SPECIALS, *self.pieces()])

    def check_vocabulary(self, vocab: Vocabulary, vocab_path: str | Path) -> None:
        """Raise one line naming both files unless `vocab` is this model's piece vocabulary.

        Raises:
            ValueError: the vocabulary and the model were not made together.
        """
        if vocab.tokens[len(SPECIALS):] != self.pieces():
            raise ValueError(f"{self.path}: sentencepiece model does not match the vocabulary "
                             f"{vocab_path} ({len(self.pieces()) + len(SPECIALS)} pieces against "
                             f"{len(vocab)} tokens); copy both from the same prepared data")

    def segment(self, words: Sequence[str]) -> list[str]:
        """The pieces of a sentence's Moses tokens (each word's first piece starts with "▁")."""
        if not words:
            return []
        return self._sp.encode(" ".join(map(escape_word, words)), out_type=str)

    def segment_many(self, sentences: Sequence[Sequence[str]],
                     threads: int = 1) -> list[list[str]]:
        """`segment` of each sentence, encoded by sentencepiece in one batch."""
        text = [" ".join(map(escape_word, words)) for words in sentences]
        pieces = self._sp.encode(text, out_type=str, num_threads=threads) if text else []
        return [p if words else [] for p, words in zip(pieces, sentences, strict=True)]


def desegment(pieces: Sequence[str]) -> list[str]:
    """The words of a sentence's pieces: a piece starting with "▁" starts a word.

    A model's output may hold what segmentation never gives: an [UNK] piece (kept as a word of
    its own, so the [UNK] share counts it), a first piece without "▁", or a bare "▁" (a word
    that never got its letters: dropped).
    """
    words: list[str] = []
    current: list[str] | None = None
    for piece in pieces:
        if piece == UNK:
            _close(words, current)
            words.append(UNK)
            current = None
        elif piece.startswith(MARKER) or current is None:
            _close(words, current)
            current = [piece.removeprefix(MARKER)]
        else:
            current.append(piece)
    _close(words, current)
    return words


def _close(words: list[str], current: list[str] | None) -> None:
    if current and (word := "".join(current)):
        words.append(unescape_word(word))


def load_models(directory: Path, langs: tuple[str, str],
                vocabs: tuple[Vocabulary, Vocabulary] | None = None,
                vocab_paths: tuple[Path, Path] | None = None) -> tuple[SubwordModel, SubwordModel]:
    """Both languages' models from `directory`, checked against their vocabularies if given.

    Raises:
        FileNotFoundError / ValueError: one line naming the model file at fault.
    """
    models = (SubwordModel(directory / model_name(langs[0])),
              SubwordModel(directory / model_name(langs[1])))
    if vocabs is not None and vocab_paths is not None:
        for model, vocab, path in zip(models, vocabs, vocab_paths, strict=True):
            model.check_vocabulary(vocab, path)
    return models


def to_words(pieces_or_words: Sequence[str], units: str) -> list[str]:
    """The words of a decoded sentence: `desegment` for `bpe`, the tokens themselves for words."""
    return desegment(pieces_or_words) if units == BPE else list(pieces_or_words)

