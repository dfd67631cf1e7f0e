"""The training split, streamed: raw files -> word counts -> shortlist ids on disk.

Paper: Sec. 4.1 (30k shortlists per language, the rest [UNK]), Sec. 4.2 (training pairs of
1..`data.prepare_max_len` tokens per side). No pass holds the corpus in memory:
1. `spool_train` streams the raw files (gzip line by line), cleans and tokenizes them once,
   chunk by chunk, writes the tokens to a temporary text file per language beside the output
   and counts the words by hash (`word_counts.py`): over every line (`data.vocab_count:
   all_lines`, GroundHog's preprocess.py) and over the kept pairs (`kept_pairs`).
2. `TrainSpool.words` reads back the words of the shortlist's candidates (a few tens of
   thousands): the shortlists are built from their counts (`vocab.Vocabulary.build`).
3. `TrainSpool.encode` maps the tokens of the kept pairs to shortlist ids and writes
   `train.<side>.{ids,offsets}.npy`, recounting the shortlist's words exactly.
Memory: the hash counts (16 bytes per word type and language) and one chunk. Not responsible
for dev/test (`tokenized_pairs.py`) or for the shortlist rule (`vocab.py`).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnnsearch.data.id_arrays import ID_DTYPE, OFFSET_DTYPE, ids_path, npy_writer, offsets_path
from rnnsearch.data.moses import clean_line, pretokenized_lines, tokenize_many
from rnnsearch.data.parallel_files import DataError, InvalidUtf8, iter_parallel
from rnnsearch.data.split_stats import SideStats
from rnnsearch.data.vocab import SPECIALS, UNK, UNK_ID, Vocabulary
from rnnsearch.data.word_counts import HashCounts, word_hashes

READ_CHUNK = 10_000  # pairs Moses-tokenized at a time (20,000 lines: its process pool's minimum)
CHUNK = 2_048  # pairs of already tokenized text read at a time (a few MB of Python strings)
BLOCK_BYTES = 1 << 18  # spool bytes re-read at a time (about 40,000 tokens)

Sentences = list[list[str]]


def _tokenized_chunks(src_path: Path, tgt_path: Path, langs: tuple[str, str],
                      pretokenized: bool, workers: int,
                      invalid: tuple[InvalidUtf8, InvalidUtf8] | None,
                      ) -> Iterator[tuple[Sentences, Sentences]]:
    """(source tokens, target tokens) per chunk of raw line pairs."""
    pairs = iter_parallel(src_path, tgt_path, invalid)
    while chunk := list(islice(pairs, CHUNK if pretokenized else READ_CHUNK)):
        src, tgt = [s for s, _ in chunk], [t for _, t in chunk]
        if pretokenized:
            yield pretokenized_lines(src, langs[0]), pretokenized_lines(tgt, langs[1])
        else:
            yield tuple(tokenize_many([([clean_line(s) for s in src], langs[0]),
                                       ([clean_line(t) for t in tgt], langs[1])], workers))


def _lengths(sentences: Sentences) -> np.ndarray:
    return np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))


@dataclass
class SpooledSide:
    """One language of the training text: its token file and what counting it found."""

    spool: Path  # the tokens, one sentence per line, separated by single spaces
    lengths: Path  # int32 tokens per line
    invalid: InvalidUtf8 = field(default_factory=InvalidUtf8)
    all_lines: HashCounts = field(default_factory=HashCounts)  # every line, before any filter
    kept_pairs: HashCounts = field(default_factory=HashCounts)  # the pairs prepare keeps
    raw_tokens: int = 0
    kept_tokens: int = 0

    def add(self, sentences: Sentences, lengths: np.ndarray, kept: np.ndarray,
            out: tuple[BinaryIO, BinaryIO]) -> None:
        """Spool and count one chunk (`lengths` (n,) its sentences'; `kept` (n,) bool: the
        pairs within the length limit)."""
        hashes = word_hashes(chain.from_iterable(sentences), int(lengths.sum()))
        self.all_lines.add(hashes)
        self.kept_pairs.add(hashes[np.repeat(kept, lengths)])
        self.raw_tokens += int(lengths.sum())
        self.kept_tokens += int(lengths[kept].sum())
        out[0].write("".join(" ".join(s) + "\n" for s in sentences).encode("utf-8"))
        lengths.astype(np.int32).tofile(out[1])


@dataclass
class PairCounts:
    """Line pairs of the training files: read, dropped (an empty side, too long), kept."""

    lines: int = 0
    dropped_empty: int = 0
    dropped_length: int = 0

    @property
    def kept(self) -> int:
        """Pairs kept for training."""
        return self.lines - self.dropped_empty - self.dropped_length

    def add(self, lengths: tuple[np.ndarray, np.ndarray], max_len: int) -> np.ndarray:
        """Count a chunk; (n,) bool of its kept pairs (1..max_len tokens on both sides)."""
        empty = (lengths[0] == 0) | (lengths[1] == 0)
        kept = ~empty & (lengths[0] <= max_len) & (lengths[1] <= max_len)
        self.lines += len(kept)
        self.dropped_empty += int(empty.sum())
        self.dropped_length += int((~empty & ~kept).sum())
        return kept


@contextmanager
def spool_train(src_path: Path, tgt_path: Path, langs: tuple[str, str], *, pretokenized: bool,
                workers: int, replace_invalid: bool, max_len: int,
                tmp_dir: Path) -> Iterator[TrainSpool]:
    """Pass 1: tokenize the training files once into temporary token files, counting words.

    Args:
        src_path, tgt_path: the raw training files (plain or `.gz`, line-aligned).
        langs: (source, target) language codes (Moses' rules).
        pretokenized: keep the files' own tokens (Moses entities unescaped).
        workers: Moses tokenisation processes.
        replace_invalid: `data.invalid_utf8 == "replace"`: U+FFFD for invalid bytes, counted.
        max_len: `data.prepare_max_len`, the longest side of a kept pair.
        tmp_dir: where the token files go (the output directory: the same disk; `.`-names keep
            them out of the prepared data's hash); removed on exit.

    Yields:
        The spool, for `words` and `encode`.

    Raises:
        DataError: misaligned files, or invalid UTF-8 when not replaced (names file and line).
    """
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=".train.tmp-",
                                                                   dir=tmp_dir)))
        sides = tuple(SpooledSide(tmp / f"{name}.tok", tmp / f"{name}.len")
                      for name in ("src", "tgt"))
        pairs = PairCounts()
        invalid = (sides[0].invalid, sides[1].invalid) if replace_invalid else None
        with ExitStack() as files:
            outs = [tuple(files.enter_context(open(p, "wb")) for p in (side.spool, side.lengths))
                    for side in sides]
            for chunk in _tokenized_chunks(src_path, tgt_path, langs, pretokenized, workers,
                                           invalid):
                lengths = [_lengths(sentences) for sentences in chunk]
                kept = pairs.add((lengths[0], lengths[1]), max_len)
                for side, sentences, n, out in zip(sides, chunk, lengths, outs, strict=True):
                    side.add(sentences, n, kept, out)
        yield TrainSpool(sides, pairs, max_len)  # type: ignore[arg-type]


@dataclass
class Block:
    """Consecutive spooled lines of one side: their tokens and (lines,) tokens per line."""

    tokens: list[str]
    lengths: np.ndarray

    @classmethod
    def read(cls, lines: list[bytes], counts: BinaryIO) -> Block:
        """The block of `lines` (read from the token file) and their counts (from `counts`)."""
        tokens = b"".join(lines).decode("utf-8").split()  # no token holds whitespace
        return cls(tokens, np.fromfile(counts, dtype=np.int32, count=len(lines)).astype(np.int64))


class TrainSpool:
    """The spooled training text (pass 1's output): shortlist words, then the id arrays."""

    def __init__(self, sides: tuple[SpooledSide, SpooledSide], pairs: PairCounts,
                 max_len: int) -> None:
        self.sides, self.pairs, self.max_len = sides, pairs, max_len

    def _open(self, side: int, stack: ExitStack) -> tuple[BinaryIO, BinaryIO]:
        return (stack.enter_context(open(self.sides[side].spool, "rb")),
                stack.enter_context(open(self.sides[side].lengths, "rb")))

    def blocks(self, side: int) -> Iterator[Block]:
        """One side's spooled tokens, about `BLOCK_BYTES` of whole lines at a time."""
        with ExitStack() as stack:
            text, counts = self._open(side, stack)
            while lines := text.readlines(BLOCK_BYTES):
                yield Block.read(lines, counts)

    def chunks(self) -> Iterator[tuple[Block, Block]]:
        """Both sides' blocks, aligned line for line."""
        with ExitStack() as stack:
            (src, src_counts), (tgt, tgt_counts) = self._open(0, stack), self._open(1, stack)
            while lines := src.readlines(BLOCK_BYTES):
                yield (Block.read(lines, src_counts),
                       Block.read(list(islice(tgt, len(lines))), tgt_counts))

    def words(self, side: int, keys: np.ndarray) -> dict[int, str]:
        """Pass 2: the word of each hash in `keys` (sorted), read back from the spool; stops
        once every one was seen.

        Raises:
            DataError: if a hash of `keys` never occurs (they come from this spool's counts).
        """
        found: dict[int, str] = {}
        seen = np.zeros(len(keys), dtype=bool)
        for block in self.blocks(side) if len(keys) else ():
            hashes = word_hashes(block.tokens, len(block.tokens))
            pos = np.minimum(np.searchsorted(keys, hashes), len(keys) - 1)  # (tokens,)
            hit = np.flatnonzero((keys[pos] == hashes) & ~seen[pos])
            new, first = np.unique(pos[hit], return_index=True)  # first occurrence of each
            for key_index, token_index in zip(new, hit[first], strict=True):
                found[int(keys[key_index])] = block.tokens[token_index]
            seen[new] = True
            if seen.all():
                return found
        if len(found) < len(keys):
            raise DataError(f"{self.sides[side].spool}: {len(keys) - len(found)} counted words "
                            "not found again in the training text")
        return found

    def encode(self, vocabs: list[Vocabulary], out_stems: list[Path], counted: str,
               ) -> tuple[list[SideStats], int]:
        """Pass 3: write the kept pairs' shortlist ids (`<stem>.{ids,offsets}.npy` per side).

        Args:
            vocabs: the shortlists, source and target.
            out_stems: the output stems, source and target.
            counted: `data.vocab_count`: the shortlists' words are recounted exactly over the
                same lines and must match their hash counts.

        Returns:
            Per side its stats, and the number of kept pairs without [UNK] on either side.

        Raises:
            DataError: a shortlist word's exact count differs from its hash count (a collision).
        """
        lookups = [_ShortlistIds(v) for v in vocabs]
        exact = [np.zeros(len(v), dtype=np.int64) for v in vocabs]
        stats = [SideStats(types=int(np.count_nonzero(s.kept_pairs.table()[1])))
                 for s in self.sides]
        no_unk, ends = 0, [0, 0]
        with ExitStack() as stack:
            writers = [(stack.enter_context(npy_writer(ids_path(stem), ID_DTYPE, s.kept_tokens)),
                        stack.enter_context(npy_writer(offsets_path(stem), OFFSET_DTYPE,
                                                       self.pairs.kept + 1)))
                       for stem, s in zip(out_stems, self.sides, strict=True)]
            for _, write_offsets in writers:
                write_offsets(np.zeros(1, dtype=OFFSET_DTYPE))
            for chunk in self.chunks():
                kept = PairCounts().add((chunk[0].lengths, chunk[1].lengths), self.max_len)
                has_unk = np.zeros(int(kept.sum()), dtype=bool)
                for k, (write_ids, write_offsets) in enumerate(writers):
                    ids = lookups[k].encode(chunk[k].tokens)
                    in_kept = np.repeat(kept, chunk[k].lengths)  # (tokens,)
                    exact[k] += np.bincount(ids if counted == "all_lines" else ids[in_kept],
                                            minlength=len(vocabs[k]))
                    ids, kept_lengths = ids[in_kept], chunk[k].lengths[kept]
                    write_ids(ids)
                    write_offsets(ends[k] + np.cumsum(kept_lengths))
                    ends[k] += int(kept_lengths.sum())
                    has_unk |= stats[k].add(ids, kept_lengths)
                no_unk += int((~has_unk).sum())
            for k, side in enumerate(self.sides):
                self._check_counts(vocabs[k], exact[k], getattr(side, counted), side.spool)
        return stats, no_unk

    @staticmethod
    def _check_counts(vocab: Vocabulary, exact: np.ndarray, counts: HashCounts,
                      spool: Path) -> None:
        words = vocab.tokens[len(SPECIALS):]
        by_hash = counts.count_of(word_hashes(words, len(words)))
        differ = np.flatnonzero(by_hash != exact[len(SPECIALS):])
        if len(differ):
            raise DataError(f"{spool.name}: the word {words[differ[0]]!r} was counted "
                            f"{int(by_hash[differ[0]])} times by hash but occurs "
                            f"{int(exact[len(SPECIALS) + differ[0]])} times (a hash collision); "
                            "run prepare again (Python draws new hashes per process)")


class _ShortlistIds(dict[str, int]):
    """Word -> shortlist id; any other word, and a literal special such as "<s>", -> [UNK]."""

    def __init__(self, vocab: Vocabulary) -> None:
        super().__init__((w, i) for i, w in enumerate(vocab.tokens))
        self.update({w: UNK_ID for w in set(SPECIALS) - {UNK}})

    def __missing__(self, word: str) -> int:
        return UNK_ID

    def encode(self, tokens: list[str]) -> np.ndarray:
        """(tokens,) int32 ids."""
        return np.fromiter(map(self.__getitem__, tokens), dtype=ID_DTYPE, count=len(tokens))


def shortlist_counts(spool: TrainSpool, side: int, keys: np.ndarray,
                     counts: np.ndarray) -> Counter[str]:
    """Word -> count of the candidate words (`keys`, sorted, with their `counts`) of a side."""
    words = spool.words(side, keys)
    return Counter({words[int(k)]: int(n) for k, n in zip(keys, counts, strict=True)})
