"""WMT SGML reader: `<seg id=..>` text inside `<doc>` elements, with structural validation.

The newstest sets (Sec. 4.1: news-test-2012/2013 dev, news-test-2014 test) are distributed as
SGML, one element per line:

    <srcset setid="newstest2014" srclang="any">      (or <refset>, <tstset>)
    <doc docid="1016-latimes" genre="news" origlang="en">
    <seg id="1">A black box in your car?</seg>
    </doc>
    </srcset>

Segment text is returned exactly as published (no entity unescaping, like sacreBLEU).
Other markup lines (`<p>`, `<h1>`, `<hl>`, ...) are ignored, even with stray text after the tag
(newstest2012 has a `</p>payments` line). Text outside any tag, a `<seg>` that does not close on
its line, or broken nesting is a `DataError` naming the file and line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from rnnsearch.data.parallel_files import DataError, decode_utf8, split_lines

_SEG = re.compile(r'<seg\s+id\s*=\s*"?([^">\s]+)"?\s*>(.*)</seg>', re.IGNORECASE)
_DOC_OPEN = re.compile(r"<doc(\s[^>]*)?>", re.IGNORECASE)
_DOCID = re.compile(r'docid\s*=\s*"([^"]*)"', re.IGNORECASE)
_SET_OPEN = re.compile(r"<(srcset|refset|tstset)(\s[^>]*)?>", re.IGNORECASE)
_SET_CLOSE = re.compile(r"</(srcset|refset|tstset)\s*>", re.IGNORECASE)
_DOC_CLOSE = re.compile(r"</doc\s*>", re.IGNORECASE)
_OTHER_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?>")


@dataclass(frozen=True)
class Segment:
    """One `<seg>`: its document id, segment id and raw text."""

    docid: str
    segid: str
    text: str


class _Parser:
    """Line-by-line state machine: set > doc > seg."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.in_set = False
        self.docid: str | None = None
        self.seen_ids: set[str] = set()
        self.segments: list[Segment] = []

    def fail(self, line_no: int, msg: str) -> DataError:
        return DataError(f"{self.path}:{line_no}: malformed SGML: {msg}")

    def feed(self, line_no: int, line: str) -> None:
        if not line:
            return
        if m := _SEG.fullmatch(line):
            if self.docid is None:
                raise self.fail(line_no, "<seg> outside <doc>")
            if m.group(1) in self.seen_ids:
                raise self.fail(line_no, f"duplicate seg id {m.group(1)!r} in doc {self.docid!r}")
            self.seen_ids.add(m.group(1))
            self.segments.append(Segment(self.docid, m.group(1), m.group(2).strip()))
        elif m := _DOC_OPEN.fullmatch(line):
            if not self.in_set or self.docid is not None:
                raise self.fail(line_no, "<doc> outside a set or inside another <doc>")
            docid = _DOCID.search(m.group(1) or "")
            self.docid = docid.group(1) if docid else f"doc@{line_no}"
            self.seen_ids = set()
        elif _DOC_CLOSE.fullmatch(line):
            if self.docid is None:
                raise self.fail(line_no, "</doc> without <doc>")
            self.docid = None
        elif _SET_OPEN.fullmatch(line):
            if self.in_set:
                raise self.fail(line_no, "nested set element")
            self.in_set = True
        elif _SET_CLOSE.fullmatch(line):
            if not self.in_set or self.docid is not None:
                raise self.fail(line_no, "set closed while a <doc> is open or none is open")
            self.in_set = False
        elif "<seg" in line.lower() or not _OTHER_TAG.match(line):  # "</p>payments" is tolerated
            raise self.fail(line_no, f"unexpected content {line[:40]!r}")


def parse_sgml(text: str, path: str | os.PathLike[str]) -> list[Segment]:
    """Parse SGML text (see module docstring); `path` is used in error messages.

    Raises:
        DataError: on malformed structure, unclosed elements or no segments at all.
    """
    parser = _Parser(Path(path))
    lines = split_lines(text)
    for i, line in enumerate(lines, start=1):
        parser.feed(i, line.strip())
    if parser.docid is not None or parser.in_set:
        raise parser.fail(len(lines), "unclosed <doc> or set element at end of file")
    if not parser.segments:
        raise DataError(f"{path}: malformed SGML: no <seg> elements")
    return parser.segments


def read_sgml(path: str | os.PathLike[str]) -> list[Segment]:
    """Read and parse a UTF-8 SGML file.

    Raises:
        FileNotFoundError: if the file is missing.
        DataError: on invalid UTF-8 or malformed SGML.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SGML file {path} not found")
    return parse_sgml(decode_utf8(path.read_bytes(), path), path)


def read_sgml_pair(src_path: str | os.PathLike[str],
                   tgt_path: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """Read source and reference SGML and check that their (docid, segid) sequences match.

    Raises:
        DataError: if the files disagree on documents or segments.
    """
    src, tgt = read_sgml(src_path), read_sgml(tgt_path)
    if len(src) != len(tgt):
        raise DataError(f"{src_path} has {len(src)} segments but {tgt_path} has {len(tgt)}")
    for k, (a, b) in enumerate(zip(src, tgt, strict=True)):
        if (a.docid, a.segid) != (b.docid, b.segid):
            raise DataError(f"{src_path} segment {k + 1} is {a.docid}/{a.segid} but {tgt_path} "
                            f"has {b.docid}/{b.segid}")
    return [s.text for s in src], [t.text for t in tgt]
