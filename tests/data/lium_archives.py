"""Fake LIUM archives in the published member layout, for the data=wmt14_lium tests.

bitexts.tgz holds `bitexts.selected/<name>.{en,fr}.gz` (the six selected corpora), dev+test.tgz
holds `dev/ntst1213.{en,fr}` (dev) and `dev/ntst14.{en,fr}` (test), all Moses-tokenized text.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

SELECTED = ("ep7_pc45", "nc9", "dev08_11", "crawl", "ccb2_pc30", "un2000_pc34")
# A published-style line: Moses entities, and a quote left attached (re-tokenizing splits it)
ESCAPED = ("the man &apos;s &quot;yes&quot; &amp; more .",
           "l&apos; homme dit &quot;oui&quot; &amp; plus .")
WORDS_EN = "the a man house says yes big small".split()
WORDS_FR = "le un homme maison dit oui grand petit".split()
# with non-ASCII words (accents, guillemets, a typographic apostrophe)
ACCENTED_FR = "le un homme été maison « dit » oui grand très petit l’ élève".split()
BITEXTS, DEVTEST = "bitexts.tgz", "dev+test.tgz"


def lines(n: int, words: list[str], seed: int, extra: int = 0) -> list[str]:
    """`n` sentences of 2-7 (+ `extra`) words cycling through `words`, each ending in " ."."""
    return [" ".join(words[(seed + i + k) % len(words)]
                     for k in range(2 + (seed + i) % 6 + extra)) + " ." for i in range(n)]


def text(sentences: list[str]) -> bytes:
    """UTF-8 lines, newline-terminated."""
    return "".join(f"{line}\n" for line in sentences).encode()


def tar_gz(path: Path, members: dict[str, bytes]) -> bytes:
    """Write a .tgz of `members` (name -> bytes) to `path`; return its bytes."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path.read_bytes()


def plain_members(base: int = 40, step: int = 5) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(bitexts, devtest) members: ASCII text, `base + step * k` pairs in the k-th corpus, dev 30
    pairs, test 21 (the first with Moses entities)."""
    bitexts = {}
    for k, name in enumerate(SELECTED):
        n = base + step * k
        bitexts[f"bitexts.selected/{name}.en.gz"] = gzip.compress(text(lines(n, WORDS_EN, k)))
        bitexts[f"bitexts.selected/{name}.fr.gz"] = gzip.compress(text(lines(n, WORDS_FR, k)))
    devtest = {"dev/ntst1213.en": text(lines(30, WORDS_EN, 7)),
               "dev/ntst1213.fr": text(lines(30, WORDS_FR, 7)),
               "dev/ntst14.en": text([ESCAPED[0], *lines(20, WORDS_EN, 9)]),
               "dev/ntst14.fr": text([ESCAPED[1], *lines(20, WORDS_FR, 9)])}
    return bitexts, devtest


def hard_members(pairs: int = 30) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(bitexts, devtest) members with what the real corpus has: non-ASCII text, Moses entities,
    one invalid UTF-8 byte in a training file (crawl.fr), and training pairs of over 50 tokens
    (two per corpus)."""
    bitexts = {}
    for k, name in enumerate(SELECTED):
        en = [*lines(pairs, WORDS_EN, k), ESCAPED[0], *lines(2, WORDS_EN, k, extra=55)]
        fr = [*lines(pairs, ACCENTED_FR, k), ESCAPED[1], *lines(2, ACCENTED_FR, k, extra=60)]
        fr_bytes = text(fr)
        if name == "crawl":  # one stray Latin-1 byte (é), as in crawled text
            fr_bytes = fr_bytes.replace("été".encode(), b"\xe9t\xc3\xa9", 1)
        bitexts[f"bitexts.selected/{name}.en.gz"] = gzip.compress(text(en))
        bitexts[f"bitexts.selected/{name}.fr.gz"] = gzip.compress(fr_bytes)
    devtest = {"dev/ntst1213.en": text(lines(30, WORDS_EN, 7)),
               "dev/ntst1213.fr": text(lines(30, ACCENTED_FR, 7)),
               "dev/ntst14.en": text([ESCAPED[0], *lines(24, WORDS_EN, 9)]),
               "dev/ntst14.fr": text([ESCAPED[1], *lines(24, ACCENTED_FR, 9)])}
    return bitexts, devtest


def write_archives(directory: Path, bitexts: dict[str, bytes], devtest: dict[str, bytes]
                   ) -> dict[str, bytes]:
    """Write bitexts.tgz and dev+test.tgz into `directory`; return file name -> bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    return {BITEXTS: tar_gz(directory / BITEXTS, bitexts),
            DEVTEST: tar_gz(directory / DEVTEST, devtest)}


def pin_overrides(blobs: dict[str, bytes]) -> list[str]:
    """The overrides that make conf/data/wmt14_lium.yaml's published size and MD5 fit `blobs`."""
    return [f"data.wmt14.archives.bitexts.size={len(blobs[BITEXTS])}",
            f"data.wmt14.archives.devtest.md5={hashlib.md5(blobs[DEVTEST]).hexdigest()}"]
