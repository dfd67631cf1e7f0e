"""`prepare` with subword units (`data.units: bpe`, ours): sentencepiece models, piece ids.

Paper: Sec. 4.1 keeps words (`data.units: word`, `train_encoding.py`); this is the path for a
user's own corpus (`scale=real`). From the spooled training text (Moses tokens, pass 1 of
`train_encoding.py`) it learns one BPE model per language on every training line
(`subwords.train_model`, saved as `spm.<lang>.model`), takes its pieces as the vocabulary
(`vocab.<lang>.txt`), and writes the kept pairs (1..`data.prepare_max_len` *words* per side, as
for words) as piece ids. Dev and test are segmented the same way; their `.tok` files keep the
words. Memory: one chunk of pieces (the ids go to a temporary file first: their count is known
only once the last sentence is segmented).
Not responsible for segmentation itself (`subwords.py`) or the word path (`train_encoding.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnnsearch.data.id_arrays import ID_DTYPE, OFFSET_DTYPE, ids_path, npy_writer, offsets_path
from rnnsearch.data.split_stats import SideStats
from rnnsearch.data.subwords import SubwordModel, model_name, train_model
from rnnsearch.data.tokenized_pairs import encode_all
from rnnsearch.data.train_encoding import Block, PairCounts, TrainSpool
from rnnsearch.data.vocab import SPECIALS, Vocabulary

COPY_ITEMS = 1 << 22  # ids copied from the temporary file to the .npy at a time (16 MB)


def _spooled_lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield line.rstrip("\n")


def train_models(spool: TrainSpool, langs: tuple[str, str], vocab_size: int, out: Path,
                 threads: int) -> tuple[list[SubwordModel], list[Vocabulary]]:
    """Learn and save one model per language from the spooled training lines; its vocabulary.

    Raises:
        DataError: sentencepiece refused a side (names the model file).
    """
    models, vocabs = [], []
    for side, lang in zip(spool.sides, langs, strict=True):
        path = out / model_name(lang)
        train_model(_spooled_lines(side.spool), vocab_size, path, threads)
        models.append(SubwordModel(path))
        vocabs.append(models[-1].vocabulary())
    return models, vocabs


def _sentences(block: Block, kept: np.ndarray) -> list[list[str]]:
    """The kept sentences of a block, as word lists."""
    ends = np.cumsum(block.lengths)
    return [block.tokens[end - n:end] for end, n, keep in zip(ends, block.lengths, kept,
                                                                strict=True) if keep]


def encode_pieces(spool: TrainSpool, models: list[SubwordModel], vocabs: list[Vocabulary],
                  out_stems: list[Path], threads: int) -> tuple[list[SideStats], int, list[int]]:
    """Write the kept pairs' piece ids (`<stem>.{ids,offsets}.npy` per side).

    Returns:
        Per side its stats (over pieces; `types`: distinct pieces used), the number of kept
        pairs without [UNK] on either side, and per side the kept pairs' word count.
    """
    stats = [SideStats() for _ in models]
    seen = [np.zeros(len(v), dtype=bool) for v in vocabs]
    words, ends, no_unk = [0, 0], [0, 0], 0
    with ExitStack() as stack:
        raw = [stack.enter_context(open(spool.sides[k].spool.with_suffix(".pieces"), "w+b"))
               for k in range(len(models))]
        offsets = [stack.enter_context(npy_writer(offsets_path(stem), OFFSET_DTYPE,
                                                  spool.pairs.kept + 1)) for stem in out_stems]
        for write in offsets:
            write(np.zeros(1, dtype=OFFSET_DTYPE))
        for chunk in spool.chunks():
            kept = PairCounts().add((chunk[0].lengths, chunk[1].lengths), spool.max_len)
            has_unk = np.zeros(int(kept.sum()), dtype=bool)
            for k, model in enumerate(models):
                words[k] += int(chunk[k].lengths[kept].sum())
                pieces = model.segment_many(_sentences(chunk[k], kept), threads)
                lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
                ids = np.fromiter((i for s in encode_all(vocabs[k], pieces) for i in s),
                                  dtype=ID_DTYPE, count=int(lengths.sum()))
                ids.tofile(raw[k])
                seen[k][ids] = True
                offsets[k](ends[k] + np.cumsum(lengths))
                ends[k] += int(lengths.sum())
                has_unk |= stats[k].add(ids, lengths)
            no_unk += int((~has_unk).sum())
        for k, stem in enumerate(out_stems):
            _copy_ids(raw[k], ids_path(stem), ends[k])
            stats[k].types = int(seen[k][len(SPECIALS):].sum())
    for k in range(len(models)):
        spool.sides[k].spool.with_suffix(".pieces").unlink(missing_ok=True)
    return stats, no_unk, words


def _copy_ids(raw: BinaryIO, path: Path, n: int) -> None:
    """The temporary file's `n` int32 ids as a `.npy`, written atomically."""
    raw.seek(0)
    with npy_writer(path, ID_DTYPE, n) as write:
        while len(block := np.fromfile(raw, dtype=ID_DTYPE, count=COPY_ITEMS)):
            write(block)


def encode_heldout(model: SubwordModel, vocab: Vocabulary,
                   sentences: list[list[str]]) -> list[list[int]]:
    """Piece ids of dev or test sentences (their words as `tokenized_pairs` read them)."""
    return encode_all(vocab, model.segment_many(sentences))
