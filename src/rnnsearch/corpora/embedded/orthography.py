"""Surface forms of the embedded corpus: French elision and contraction, English a/an,
capitalisation, detokenization that Moses tokenizes back exactly, and word alignments.

Applied to the aligned token lists that `grammar.py` derives; the alignment units of merged
tokens ("de" + "le" -> "du") are united, so gold alignments survive the rewriting.
"""

from __future__ import annotations

from rnnsearch.corpora.embedded.grammar import Phrase, Tok
from rnnsearch.corpora.embedded.lexicon import VOWEL_INITIALS

ELISION = {"le": "l'", "la": "l'", "de": "d'", "ne": "n'", "que": "qu'", "ce": "cet", "sa": "son"}
CONTRACTION = {("de", "le"): "du", ("de", "les"): "des", ("à", "le"): "au",
               ("à", "les"): "aux", ("de", "des"): "de"}


def _elide(toks: list[Tok]) -> list[Tok]:
    out = list(toks)
    for i in range(len(out) - 1):
        w, u = out[i]
        if w in ELISION and out[i + 1][0][0].lower() in VOWEL_INITIALS:
            out[i] = (ELISION[w], u)
    return out


def _french_phonology(toks: list[Tok]) -> list[Tok]:
    """Elision (le/la/de/ne/que + vowel, ce -> cet, sa -> son), de/a + le/les contraction, and
    elision again ("de des amis" -> "de amis" -> "d'amis"); "de l'ami" is never contracted."""
    res: list[Tok] = []
    for w, u in _elide(toks):
        if res and (res[-1][0], w) in CONTRACTION:
            prev, pu = res.pop()
            res.append((CONTRACTION[(prev, w)], pu + u))
        else:
            res.append((w, u))
    return _elide(res)


def _capitalize(toks: list[Tok]) -> list[Tok]:
    if not toks:
        return toks
    w, u = toks[0]
    return [(w[0].upper() + w[1:], u), *toks[1:]]


def render(ph: Phrase, with_alignment: bool = False) -> tuple[list[str], list[str], str]:
    """Final token lists (after phonology and capitalisation) and Pharaoh `i-j` alignments."""
    en = [("an" if w == "a" and i + 1 < len(ph.en) and ph.en[i + 1][0][0] in VOWEL_INITIALS
           else w, u) for i, (w, u) in enumerate(ph.en)]
    en, fr = _capitalize(en), _capitalize(_french_phonology(ph.fr))
    align = ""
    if with_alignment:
        fr_units = [set(u) for _, u in fr]
        align = " ".join(f"{i}-{j}" for i, (_, u) in enumerate(en)
                         for j, fu in enumerate(fr_units) if fu.intersection(u))
    return [w for w, _ in en], [w for w, _ in fr], align


def detokenize(tokens: list[str]) -> str:
    """Raw text whose Moses tokenisation gives back `tokens` (', . 's' attach; l' d' glue on)."""
    out: list[str] = []
    for k, tok in enumerate(tokens):
        if k and not (tok in (",", ".", "'s") or tokens[k - 1].endswith("'")):
            out.append(" ")
        out.append(tok)
    return "".join(out)
