"""Invented bilingual lexicon of the embedded corpus: pronounceable word forms and inflections.

Each content lemma has an English-like form and an unrelated French-like form (no
transliteration, so the task is translation, not copying), plus the inflections the grammar
in `rnnsearch.corpora.embedded.grammar` needs: noun number, French gender agreement of
adjectives, verb agreement and tense. Lemmas are drawn from a Zipf distribution over their rank
in each part of speech, so rare words exist on both sides and fall outside a shortlist
(Sec. 4.1's [UNK]). Proper names are the one class copied unchanged across languages, as in
real news text.

Not responsible for sentence structure (`grammar.py`) or for files (`generate.py`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

# Closed-class words of both languages: invented words must never collide with them.
RESERVED = frozenset(
    "the a an some this these his her their he she they who that not does do did will is are was "
    "were of in on with for from to under near after before without about against during and but "
    "because while when although often also always rarely never so "
    "le la les l' un une des ce cet cette ces son sa ses leur leurs il elle ils qui que qu' ne n' "
    "pas jamais de d' du au aux à dans sur avec pour sous près après avant sans sujet contre "
    "pendant et mais parce tandis quand bien donc souvent aussi toujours rarement a ont est sont "
    "était étaient en "
    # short real words an invented form could hit by chance
    "all at it as by or if be me we us no go so up am an any one two man men new old see saw "
    "y on ou où si se ni tu je me te vous nous mon ma mes ton ta tes".split()
)
EN_ONSETS = ("b bl br c cl cr d dr f fl fr g gl gr h j k l m n p pl pr r s sc sh sk sl sm sn sp "
             "st str t th tr v w wh z").split() + ["", ""]
EN_VOWELS = "a e i o u a e i o u ea oo ai ou oa ee".split()
EN_CODAS = ["", "", "", "n", "t", "d", "ck", "ng", "nd", "st", "m", "p", "rk", "ll", "sh", "rt"]
EN_ADJ_ENDINGS = ["", "", "y", "ish", "al", "ful", "ic", "ous", "less"]
FR_ONSETS = "b br c ch d f fr g gr j l m n p pl pr qu r s t tr v vr".split() + ["", ""]
FR_VOWELS = "a e é i o ou au eu ai oi u è an on in a i o".split()
FR_MASC_ENDINGS = ["", "eau", "on", "ier", "ot", "in", "ard", "ent", "oir"]
FR_FEM_ENDINGS = ["e", "ette", "ion", "ée", "ure", "ance", "ine", "ade"]
FR_ADJ_ENDINGS = ["", "al", "ique", "el", "in", "ant", "é", "if", "ain"]
NAME_ENDINGS = ["a", "o", "son", "ton", "ia", "ez", "ov", "i"]
VOWEL_INITIALS = frozenset("aeiouyéèêâàîôû")


@dataclass(frozen=True)
class Noun:
    """A noun lemma; English compounds are two space-separated words, French ones a single word."""

    en_sg: str
    en_pl: str
    fr_sg: str
    fr_pl: str
    fem: bool
    animate: bool


@dataclass(frozen=True)
class Verb:
    """A verb lemma with English base/3sg/past and French 3sg/3pl/future/participle forms."""

    en_base: str
    en_3sg: str
    en_past: str
    fr_3sg: str
    fr_3pl: str
    fr_fut_sg: str
    fr_fut_pl: str
    fr_part: str
    transitive: bool


@dataclass(frozen=True)
class Adj:
    """An adjective: invariant in English, four agreeing French forms (ms, fs, mp, fp)."""

    en: str
    fr: tuple[str, str, str, str]
    prenominal: bool  # French keeps it before the noun (like "grand"); most follow the noun


class Sampler:
    """Uniform and Zipf draws from a seeded numpy Generator, pre-drawn in blocks for speed."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._buf: list[float] = []
        self._i = 0

    def random(self) -> float:
        """A uniform float in [0, 1)."""
        if self._i == len(self._buf):
            self._buf = self._rng.random(8192).tolist()
            self._i = 0
        self._i += 1
        return self._buf[self._i - 1]

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        return min(int(self.random() * n), n - 1)

    def pick(self, items: list) -> object:
        """A uniformly chosen element."""
        return items[self.below(len(items))]

    def index(self, cdf: list[float]) -> int:
        """An index drawn from a cumulative distribution (last entry 1.0)."""
        return min(bisect.bisect_right(cdf, self.random()), len(cdf) - 1)


def zipf_cdf(n: int, exponent: float, shift: float = 0.0) -> list[float]:
    """Cumulative Zipf(-Mandelbrot) distribution over ranks 1..n: p(r) ~ (r + shift)**-exponent."""
    weights = (np.arange(1, n + 1, dtype=np.float64) + shift) ** -exponent
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    return cdf.tolist()


def _stem(s: Sampler, onsets: list[str], vowels: list[str], codas: list[str]) -> str:
    n_syl = 1 if s.random() < 0.5 else (2 if s.random() < 0.9 else 3)
    parts = []
    for k in range(n_syl):
        parts.append(s.pick(onsets) if k == 0 else s.pick([o for o in onsets if o]))
        parts.append(s.pick(vowels))
        if k == n_syl - 1 or s.random() < 0.3:
            parts.append(s.pick(codas))
    return "".join(parts)


def _en_suffix(word: str, suffix: str) -> str:
    if suffix == "s":
        return word + ("es" if word.endswith(("s", "x", "sh", "ch", "z")) else "s")
    return word + ("d" if word.endswith("e") else "ed")


def _fr_plural(word: str) -> str:
    if word.endswith(("s", "x", "z")):
        return word
    return word + ("x" if word.endswith(("eau", "eu")) else "s")


def _fr_adj_forms(base: str) -> tuple[str, str, str, str]:
    fem = base if base.endswith("e") else (base + "le" if base.endswith("el") else base + "e")
    masc_pl = base[:-2] + "aux" if base.endswith("al") else _fr_plural(base)
    return base, fem, masc_pl, fem + "s"


class _Forms:
    """Draws fresh word forms, rejecting any that collide with a reserved or earlier form."""

    def __init__(self, s: Sampler) -> None:
        self.s = s
        self.taken: set[str] = set(RESERVED)

    def claim(self, make, reuse: frozenset[str] = frozenset()) -> tuple:
        """Call `make` until none of its words (other than those in `reuse`) is taken."""
        while True:
            forms = make()
            words = [w for form in forms for w in form.split(" ") if w not in reuse]
            if len(set(words)) == len(words) and not self.taken.intersection(words):
                self.taken.update(words)
                return forms

    def en(self) -> str:
        return _stem(self.s, EN_ONSETS, EN_VOWELS, EN_CODAS)

    def fr(self) -> str:
        return _stem(self.s, FR_ONSETS, FR_VOWELS, [""])


def _make_noun(f: _Forms, compound_of: tuple[Noun, Noun] | None) -> Noun:
    s = f.s
    fem = s.random() < 0.45
    endings = FR_FEM_ENDINGS if (fem == (s.random() < 0.85)) else FR_MASC_ENDINGS

    def make() -> tuple:
        fr = f.fr() + s.pick(endings)
        if compound_of is None:
            en = f.en()
            return en, _en_suffix(en, "s"), fr, _fr_plural(fr)
        mod, head = compound_of  # English "water bottle" -> one French word
        return (f"{mod.en_sg} {head.en_sg}", f"{mod.en_sg} {head.en_pl}", fr, _fr_plural(fr))

    reuse = frozenset()  # a compound's English words are existing nouns, reused on purpose
    if compound_of is not None:
        reuse = frozenset(f"{compound_of[0].en_sg} {compound_of[1].en_sg} {compound_of[1].en_pl}"
                          .split(" "))
    en_sg, en_pl, fr_sg, fr_pl = f.claim(make, reuse)
    return Noun(en_sg, en_pl, fr_sg, fr_pl, fem, animate=s.random() < 0.3)


def _make_verb(f: _Forms) -> Verb:
    def make() -> tuple:
        en, fr = f.en(), f.fr()
        return (en, _en_suffix(en, "s"), _en_suffix(en, "ed"), fr + "e", fr + "ent",
                fr + "era", fr + "eront", fr + "é")

    return Verb(*f.claim(make), transitive=f.s.random() < 0.75)


def _make_adj(f: _Forms) -> Adj:
    def make() -> tuple:
        en = f.en() + f.s.pick(EN_ADJ_ENDINGS)
        return (en, *_fr_adj_forms(f.fr() + f.s.pick(FR_ADJ_ENDINGS)))

    en, *fr = f.claim(make)
    return Adj(en, tuple(fr), prenominal=f.s.random() < 0.1)


def _make_name(f: _Forms) -> str:
    def make() -> tuple:
        name = f.en() + f.s.pick(NAME_ENDINGS)
        return (name[0].upper() + name[1:],)

    return f.claim(make)[0]


@dataclass(frozen=True)
class Lexicon:
    """All content lemmas, each list ordered by Zipf rank (index 0 = most frequent)."""

    nouns: list[Noun]
    verbs: list[Verb]
    adjs: list[Adj]
    names: list[tuple[str, bool]]  # (name, feminine)

    @classmethod
    def build(cls, s: Sampler, size: int, compound_share: float = 0.1) -> Lexicon:
        """Draw `size` lemmas: 50% nouns (a share of them compounds), 22% verbs, 23% adjectives,
        5% names. Ranks are shuffled so compounds and simple nouns mix across frequencies."""
        f = _Forms(s)
        n_nouns, n_verbs = size // 2, size * 22 // 100
        n_adjs, n_names = size * 23 // 100, max(1, size - size // 2 - size * 45 // 100)
        n_compounds = int(n_nouns * compound_share)
        simple = [_make_noun(f, None) for _ in range(n_nouns - n_compounds)]
        pairs: set[tuple[int, int]] = set()
        n_heads = min(400, len(simple))
        n_compounds = min(n_compounds, n_heads * (n_heads - 1) // 4)
        while len(pairs) < n_compounds:  # distinct (modifier, head): one French word per compound
            mod, head = s.below(n_heads // 2), s.below(n_heads)
            if mod != head:
                pairs.add((mod, head))
        compounds = [_make_noun(f, (simple[m], simple[h])) for m, h in sorted(pairs)]
        nouns = simple + compounds
        order = np.argsort([s.random() for _ in nouns], kind="stable").tolist()
        verbs = [_make_verb(f) for _ in range(n_verbs)]
        adjs = [_make_adj(f) for _ in range(n_adjs)]
        names = [(_make_name(f), s.random() < 0.5) for _ in range(n_names)]
        return cls([nouns[i] for i in order], verbs, adjs, names)
