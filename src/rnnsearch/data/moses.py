"""Moses tokenisation (Sec. 4.1: "the usual tokenization" of Moses), batched over processes.

Uses sacremoses with `escape=False`, so `&`, `'` and `"` stay literal: the tokenized text is
what tokenized (multi-bleu style) BLEU compares, and it must match what a user types. Line
separators that `str.splitlines` would honour (U+2028, U+0085, form feed, ...) are replaced by a
space first, so every written file keeps one sentence per `\\n`-terminated line for any reader.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from concurrent.futures import ProcessPoolExecutor

from sacremoses import MosesDetokenizer, MosesTokenizer

_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_TOKENIZERS: dict[str, MosesTokenizer] = {}
_DETOKENIZERS: dict[str, MosesDetokenizer] = {}
_CHUNK = 2000  # sentences per task: large enough to amortise inter-process transfer
_MIN_PARALLEL = 20000  # below this, process start-up costs more than it saves


def clean_line(line: str) -> str:
    """Replace line separators by spaces and strip surrounding whitespace."""
    return _LINE_BREAKS.sub(" ", line).strip()


def tokenize_line(line: str, lang: str) -> list[str]:
    """Moses-tokenize one (clean) line; never returns a token that contains whitespace."""
    tok = _TOKENIZERS.get(lang)
    if tok is None:
        tok = _TOKENIZERS[lang] = MosesTokenizer(lang=lang)
    return [piece for t in tok.tokenize(line, escape=False) for piece in t.split()]


def _detokenizer(lang: str) -> MosesDetokenizer:
    if lang not in _DETOKENIZERS:
        _DETOKENIZERS[lang] = MosesDetokenizer(lang=lang)
    return _DETOKENIZERS[lang]


def pretokenized_tokens(line: str, lang: str) -> list[str]:
    """The tokens of an already Moses-tokenized (clean) line: entities such as `&apos;` and
    `&amp;` unescaped, then split on whitespace; no token is changed otherwise."""
    if "&" in line:  # every entity starts with it; most lines have none (saves 11 regex passes)
        line = _detokenizer(lang).unescape_xml(line)
    return line.split()


def pretokenized_lines(lines: list[str], lang: str) -> list[list[str]]:
    """`pretokenized_tokens(clean_line(line))` of each line, in one regex pass per chunk (the
    separators and entities never span a line, so the whole chunk is cleaned at once)."""
    text = _LINE_BREAKS.sub(" ", "\n".join(lines))
    if "&" in text:
        text = _detokenizer(lang).unescape_xml(text)
    return [line.split() for line in text.split("\n")] if lines else []


def detokenize(tokens: list[str], lang: str) -> str:
    """Moses detokenisation: the plain sentence sacreBLEU's detokenized column scores."""
    return _detokenizer(lang).detokenize(tokens)


def detokenize_lines(lines: list[str], lang: str) -> list[str]:
    """`detokenize` of each Moses-tokenized line (XML escapes undone too): hypotheses as text."""
    return [detokenize(line.split(), lang) for line in lines]


def _tokenize_chunk(args: tuple[list[str], str]) -> list[list[str]]:
    lines, lang = args
    return [tokenize_line(line, lang) for line in lines]


def _context() -> multiprocessing.context.BaseContext:
    # fork is cheap but unsafe once threads run (a test's HTTP server); spawn is always safe
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def tokenize_many(jobs: list[tuple[list[str], str]], workers: int = 1) -> list[list[list[str]]]:
    """Moses-tokenize several (lines, lang) jobs, sharing one process pool when they are large.

    Args:
        jobs: (clean sentences (see `clean_line`), ISO language code for the Moses rules).
        workers: process count; 1, or less than 20,000 lines in all, tokenizes in this process.

    Returns:
        Per job, one token list per line, in input order.
    """
    if workers <= 1 or sum(len(lines) for lines, _ in jobs) < _MIN_PARALLEL:
        return [_tokenize_chunk(job) for job in jobs]
    chunks = [(k, (lines[i:i + _CHUNK], lang)) for k, (lines, lang) in enumerate(jobs)
              for i in range(0, len(lines), _CHUNK)]
    out: list[list[list[str]]] = [[] for _ in jobs]
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        for (k, _), part in zip(chunks, pool.map(_tokenize_chunk, [c for _, c in chunks]),
                                strict=True):
            out[k] += part
    return out


def tokenize_lines(lines: list[str], lang: str, workers: int = 1) -> list[list[str]]:
    """Moses-tokenize many lines (see `tokenize_many`)."""
    return tokenize_many([(lines, lang)], workers)[0]
