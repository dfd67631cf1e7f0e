"""Vocabulary: the per-language shortlist of the K most frequent tokens, ids <-> tokens.

Paper: Sec. 4.1 -- "we use a shortlist of 30,000 most frequent words in each language to train
our models. Any word not included in the shortlist is mapped to a special token ([UNK])."
The shortlist size K counts the four special tokens, so a model's vocabulary is exactly K rows.

Not responsible for tokenisation (see `prepare.py`) or for adding BOS/EOS to sequences
(the batching code does that, so the prepared ids stay free of specials).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rnnsearch.io_utils import atomic_write_lines

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "[UNK]"
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIALS: tuple[str, ...] = (PAD, BOS, EOS, UNK)
AUTO_VOCAB = "auto"  # data.vocab_size: sized to a coverage (Vocabulary.size_for_coverage)


class Vocabulary:
    """A fixed token list; id k is the k-th token. Ids 0..3 are PAD, BOS, EOS, UNK.

    Args:
        tokens: every token in id order; must start with the four specials and hold no duplicate,
            empty or whitespace-containing token.

    Raises:
        ValueError: if `tokens` breaks those rules.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[:4]) != SPECIALS:
            raise ValueError(f"vocabulary must start with {SPECIALS}, got {tuple(tokens[:4])}")
        self._itos: list[str] = list(tokens)
        self._stoi: dict[str, int] = {}
        for i, tok in enumerate(self._itos):
            if tok in self._stoi:
                raise ValueError(f"duplicate token {tok!r} at id {i}")
            if not tok or any(ch.isspace() for ch in tok):  # would break the one-per-line file
                raise ValueError(f"token {tok!r} at id {i} is empty or contains whitespace")
            self._stoi[tok] = i

    @classmethod
    def build(cls, token_counts: Counter[str], size: int) -> Vocabulary:
        """Build the shortlist: the specials plus the `size - 4` most frequent other tokens.

        Ties in frequency are broken by the token string (code-point order), so the result
        does not depend on the order in which the counts were accumulated.

        Args:
            token_counts: token frequencies from the training data.
            size: shortlist size K including the four specials (Sec. 4.1: 30,000).

        Returns:
            The vocabulary; shorter than `size` when the data has fewer distinct tokens.

        Raises:
            ValueError: if `size` < 4.
        """
        if size < len(SPECIALS):
            raise ValueError(f"vocabulary size must be >= {len(SPECIALS)}, got {size}")
        candidates = [(tok, n) for tok, n in token_counts.items() if tok not in SPECIALS and n > 0]
        candidates.sort(key=lambda item: (-item[1], item[0]))
        kept = [tok for tok, _ in candidates[: size - len(SPECIALS)]]
        return cls([*SPECIALS, *kept])

    @staticmethod
    def size_for_coverage(token_counts: Counter[str], coverage: float, cap: int) -> int:
        """Smallest shortlist size K whose words cover `coverage` of the training tokens, <= cap.

        Ours (`data.vocab_size: auto`), not the paper's fixed 30k (Sec. 4.1). The words are taken
        in `build`'s order (most frequent first, ties by code point), and K counts the four
        specials, so `build(token_counts, K)` is the shortlist that reaches the share. Ties: at the
        boundary only as many equally frequent words as needed are kept (the tie is cut in
        code-point order, as `build` cuts it). Cap: when the share needs more than `cap`, K = cap
        and the coverage is lower than asked (`coverage_of` says by how much). A corpus with
        fewer words than that gives all of them.

        Raises:
            ValueError: if `coverage` is not in (0, 1] or `cap` < 5.
        """
        return Vocabulary.size_for_coverage_of_counts(
            [n for tok, n in token_counts.items() if tok not in SPECIALS], coverage, cap)

    @staticmethod
    def size_for_coverage_of_counts(word_counts: Iterable[int], coverage: float, cap: int) -> int:
        """`size_for_coverage` from the words' counts alone (specials already left out).

        Raises:
            ValueError: if `coverage` is not in (0, 1] or `cap` < 5.
        """
        if not 0 < coverage <= 1:
            raise ValueError(f"data.vocab_coverage must be in (0, 1], got {coverage}")
        if cap <= len(SPECIALS):
            raise ValueError(f"data.vocab_max must be > {len(SPECIALS)}, got {cap}")
        counts = np.sort(np.fromiter(word_counts, dtype=np.int64))[::-1]
        covered = np.cumsum(counts[counts > 0])  # most frequent first
        if not len(covered):
            return len(SPECIALS)
        reach = int(np.searchsorted(covered, coverage * covered[-1])) + 1  # first K reaching it
        return min(reach, cap - len(SPECIALS), len(covered)) + len(SPECIALS)

    def coverage_of(self, token_counts: Counter[str]) -> float:
        """Share of the tokens counted in `token_counts` that this shortlist keeps (not [UNK])."""
        total = sum(n for tok, n in token_counts.items() if tok not in SPECIALS)
        kept = sum(n for tok, n in token_counts.items()
                   if tok in self._stoi and tok not in SPECIALS)
        return kept / total if total else 1.0

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        """Read a vocabulary written by `save` (line k holds the token with id k).

        Raises:
            FileNotFoundError: if `path` does not exist.
            ValueError: one line naming file and line, if the specials are missing or misplaced,
                a token is duplicated or empty, or the file is not UTF-8.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            line_no = path.read_bytes()[: err.start].count(b"\n") + 1
            raise ValueError(f"{path}:{line_no}: vocabulary is not valid UTF-8") from None
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        seen: dict[str, int] = {}
        for i, tok in enumerate(lines):
            where = f"{path}:{i + 1}"
            if i < len(SPECIALS) and tok != SPECIALS[i]:
                raise ValueError(f"{where}: expected special token {SPECIALS[i]!r}, got {tok!r}")
            if not tok or tok != tok.strip() or any(ch.isspace() for ch in tok):
                raise ValueError(f"{where}: empty token or token containing whitespace")
            if tok in seen:
                raise ValueError(f"{where}: duplicate token {tok!r} (first on line {seen[tok]})")
            seen[tok] = i + 1
        if len(lines) < len(SPECIALS):
            raise ValueError(f"{path}:{len(lines) + 1}: missing special tokens {SPECIALS}")
        return cls(lines)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write one token per line (line k = id k), atomically."""
        atomic_write_lines(path, self._itos)

    def __len__(self) -> int:
        return len(self._itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._itos == other._itos

    def __hash__(self) -> int:
        return hash(tuple(self._itos))

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._itos)

    def token_to_id(self, tok: str) -> int:
        """Id of `tok`, or UNK_ID when it is not in the shortlist."""
        return self._stoi.get(tok, UNK_ID)

    def id_to_token(self, i: int) -> str:
        """Token with id `i`.

        Raises:
            IndexError: if `i` is outside [0, len(self)).
        """
        if not 0 <= i < len(self._itos):
            raise IndexError(f"token id {i} outside vocabulary of size {len(self._itos)}")
        return self._itos[i]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids; out-of-shortlist tokens become UNK_ID. No BOS/EOS is added."""
        get = self._stoi.get
        return [get(tok, UNK_ID) for tok in tokens]

    def decode(self, ids: Iterable[int], strip_special: bool = True) -> list[str]:
        """Map ids to tokens.

        Args:
            ids: token ids (e.g. a decoder output).
            strip_special: if True, stop at the first EOS and drop PAD and BOS; "[UNK]" is kept,
                because the paper's BLEU counts it as a (wrong) word.

        Returns:
            The tokens.
        """
        out: list[str] = []
        for i in ids:
            i = int(i)
            if strip_special:
                if i == EOS_ID:
                    break
                if i in (PAD_ID, BOS_ID):
                    continue
            out.append(self.id_to_token(i))
        return out
