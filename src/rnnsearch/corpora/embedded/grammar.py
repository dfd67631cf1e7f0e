"""Grammar of the embedded corpus: one derivation yields an English-like sentence, its
French-like translation and their word alignments.

The grammar (English order; French differences after the arrow):

    S        -> NP                                   headline, no final period (short sentences)
              | CLAUSE (CONN CLAUSE)* "."            CONN: ", and" ", but" "because" "while"
                                                     "when" "although" -> ", et" ", mais"
                                                     "parce que" "tandis que" "quand" "bien que"
    CLAUSE   -> SUBJ VG [NP] PP*                     transitive / intransitive verb
              | SUBJ COP ADJ PP*                     "is red" -> "est rouge(s|e|es)"
    SUBJ     -> NP | he | she | they                 -> il | elle | ils
    VG       -> [ADV] V | does/did not V | will V    -> V [ADV] | ne V pas | V-future (2 -> 1)
                                                        past: "saw" -> "a vu" (1 -> 2);
                                                        "never" -> "ne ... jamais"
    NP       -> DET ADJ{0,2} N [MOD]                 -> DET [ADJpre] N ADJpost-reversed [MOD]
                                                        (Fig. 3's "European Economic Area" ->
                                                        "zone economique europeenne")
              | NP-simple 's ADJ* N                  -> la N ADJ de NP (long-distance reordering)
              | NAME                                 copied unchanged (mostly [UNK])
    MOD      -> PREP NP | who/that VG [NP] | that NP VG    -> PREP NP | qui VG [NP] | que NP VG
    DET      -> the | a/an | some | this/these | his/her/their | (bare plural)
                -> le/la/les | un/une/des | ce/cet/cette/ces | son/sa/ses, leur(s) | les

Agreement makes the mapping one-to-many: French determiners, adjectives (also predicative) and
verbs agree with the noun's gender (a property of the French noun) and number. English noun
compounds ("water bottle") are a single French word (many-to-one). French phonology is applied
last, in `orthography.py`: elision (le/la/de/ne/que + vowel -> l' d' n' qu'), ce -> cet,
sa -> son, contraction (de le -> du, a le -> au, de les -> des, a les -> aux); English a -> an.
Sentence length is steered by a token budget split across clauses, NPs and their modifiers.
Tokens are exactly what the Moses tokenizer returns for the detokenized text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnsearch.corpora.embedded.lexicon import Lexicon, Sampler, zipf_cdf

Tok = tuple[str, tuple[int, ...]]  # a surface token and the alignment units it belongs to
LENGTH_GAIN = 1.12  # budgets are under-filled by about this factor on average (measured)
TENSES = ("present", "past", "future")
PREPS = [("in", "dans"), ("on", "sur"), ("with", "avec"), ("for", "pour"), ("from", "de"),
         ("to", "à"), ("under", "sous"), ("near", "près de"), ("after", "après"),
         ("before", "avant"), ("without", "sans"), ("about", "au sujet de"),
         ("against", "contre"), ("during", "pendant")]
CONNECTORS = [(", and", ", et"), (", but", ", mais"), ("because", "parce que"),
              ("while", "tandis que"), ("when", "quand"), ("although", "bien que")]
ADVERBS = [("often", "souvent"), ("also", "aussi"), ("always", "toujours"),
           ("rarely", "rarement"), ("never", "jamais")]
COPULA = {("present", False): ("is", "est"), ("present", True): ("are", "sont"),
          ("past", False): ("was", "était"), ("past", True): ("were", "étaient"),
          ("future", False): ("will be", "sera"), ("future", True): ("will be", "seront")}
PRONOUNS = [("he", "il", False, False), ("she", "elle", True, False), ("they", "ils", False, True)]


@dataclass
class Phrase:
    """Aligned English and French token lists plus the agreement features of a noun phrase."""

    en: list[Tok] = field(default_factory=list)
    fr: list[Tok] = field(default_factory=list)
    fem: bool = False
    plural: bool = False
    animate: bool = False

    def add(self, other: Phrase, fr_too: bool = True) -> Phrase:
        """Append `other` on both sides (French only if `fr_too`)."""
        self.en += other.en
        if fr_too:
            self.fr += other.fr
        return self


class Grammar:
    """Samples aligned sentence pairs from the grammar in the module docstring."""

    def __init__(self, lex: Lexicon, sampler: Sampler, zipf_exponent: float,
                 zipf_shift: float = 0.0) -> None:
        self.lex, self.s = lex, sampler
        self.cdf = {name: zipf_cdf(len(getattr(lex, name)), zipf_exponent, zipf_shift)
                    for name in ("nouns", "verbs", "adjs", "names")}
        self._unit = 0

    def word(self, en: str, fr: str) -> Phrase:
        """One aligned unit: every English word of `en` links to every French word of `fr`."""
        self._unit += 1
        u = (self._unit,)
        return Phrase([(w, u) for w in en.split()], [(w, u) for w in fr.split()])

    def draw(self, name: str):
        """A Zipf-distributed lemma of one part of speech."""
        return getattr(self.lex, name)[self.s.index(self.cdf[name])]

    def sentence(self, length: int) -> Phrase:
        """A sentence pair whose English side has roughly `length` tokens."""
        if length <= 3 or (length <= 6 and self.s.random() < 0.3):
            return self.noun_phrase(length, depth=0, headline=True)
        body = round((length - 1) * LENGTH_GAIN)
        n_clauses = max(1, round(body / (11 + 9 * self.s.random())))
        out = Phrase()
        for k in range(n_clauses):
            budget = body // n_clauses
            if k:
                conn = self.word(*CONNECTORS[self.s.below(len(CONNECTORS))])
                out.add(conn)
                budget -= len(conn.en)
            out.add(self.clause(budget, depth=0))
        return out.add(self.word(".", "."))

    def clause(self, budget: int, depth: int) -> Phrase:
        """SUBJ VG [OBJ] PP* or SUBJ COP ADJ PP*, filling about `budget` English tokens."""
        s = self.s
        kind = "trans" if s.random() < 0.6 else ("intrans" if s.random() < 0.5 else "cop")
        tense = TENSES[s.index([0.45, 0.8, 1.0])]
        neg = s.random() < 0.15
        adv = None if neg or s.random() > 0.15 else ADVERBS[s.below(len(ADVERBS))]
        rest = budget - 1 - 2 * neg - (adv is not None) - (tense == "future")  # after the VG
        w_subj, w_obj = {"trans": (0.35, 0.4), "intrans": (0.55, 0.0), "cop": (0.5, 0.0)}[kind]
        subj = self.subject(max(1, round(rest * w_subj)), depth)
        out = Phrase().add(subj)
        if kind == "cop":
            out.add(self.copula(subj, tense, neg, adv))
        else:
            verb = self.draw("verbs")
            out.add(self.verb_group(verb, subj.plural, tense, neg, adv))
            if kind == "trans" and verb.transitive:
                out.add(self.noun_phrase(max(1, round(rest * w_obj)), depth))
        return self.add_pps(out, budget - len(out.en), depth)

    def subject(self, budget: int, depth: int) -> Phrase:
        """A pronoun (he/she/they -> il/elle/ils) or a noun phrase."""
        if self.s.random() >= 0.12:
            return self.noun_phrase(budget, depth)
        en, fr, fem, plural = PRONOUNS[self.s.below(len(PRONOUNS))]
        subj = self.word(en, fr)
        subj.fem, subj.plural = fem, plural
        return subj

    def add_pps(self, out: Phrase, rest: int, depth: int) -> Phrase:
        """Append up to two clause-level PPs that use the remaining budget."""
        n_pp = 0 if rest < 3 else (1 if rest < 10 or depth else 2)
        for k in range(n_pp):
            share = rest // (n_pp - k)
            pp = self.word(*PREPS[self.s.below(len(PREPS))])
            out.add(pp).add(self.noun_phrase(max(1, share - 1), depth + 1))
            rest -= share
        return out

    def verb_group(self, v, plural: bool, tense: str, neg: bool, adv) -> Phrase:
        """English [ADV] V / do-support negation / will V; French V [ADV] / ne V pas / V-fut."""
        fr_fin = {"present": v.fr_3pl if plural else v.fr_3sg, "past": "ont" if plural else "a",
                  "future": v.fr_fut_pl if plural else v.fr_fut_sg}[tense]
        en_fin = {"present": v.en_base if plural else v.en_3sg, "past": v.en_past,
                  "future": f"will {v.en_base}"}[tense]
        vw = self.word(en_fin, fr_fin if tense != "past" else f"{fr_fin} {v.fr_part}")
        never = adv is not None and adv[0] == "never"
        if not neg and not never:
            if adv is None:
                return vw
            a = self.word(*adv)
            head = 1 if tense == "future" else 0  # "will often see"; "a souvent vu"
            return Phrase(vw.en[:head] + a.en + vw.en[head:], vw.fr[:1] + a.fr + vw.fr[1:])
        if never:  # "never sees" / "will never see" -> "ne voit jamais"
            n = self.word("never", "ne jamais")
            en = vw.en[:1] + n.en + vw.en[1:] if tense == "future" else n.en + vw.en
        else:  # "does not see" / "did not see" / "will not see" -> "ne voit pas" / "n'a pas vu"
            aux = {"present": "do" if plural else "does", "past": "did", "future": "will"}[tense]
            n = self.word(f"{aux} not", "ne pas")
            en = n.en + [(v.en_base, vw.en[-1][1])]
        return Phrase(en, n.fr[:1] + vw.fr[:1] + n.fr[1:] + vw.fr[1:])

    def copula(self, subj: Phrase, tense: str, neg: bool, adv) -> Phrase:
        """COP [not|ADV] ADJ, the French adjective agreeing with the subject."""
        en_cop, fr_cop = COPULA[(tense, subj.plural)]
        cop = self.word(en_cop, fr_cop)
        adj = self.draw("adjs")
        a = self.word(adj.en, adj.fr[subj.fem + 2 * subj.plural])
        if neg or (adv is not None and adv[0] == "never"):
            n = self.word("not" if neg else "never", "ne pas" if neg else "ne jamais")
            return Phrase(cop.en + n.en + a.en, n.fr[:1] + cop.fr + n.fr[1:] + a.fr)
        if adv is not None:
            m = self.word(*adv)
            return Phrase(cop.en + m.en + a.en, cop.fr + m.fr + a.fr)
        return Phrase(cop.en + a.en, cop.fr + a.fr)

    def noun_phrase(self, budget: int, depth: int, headline: bool = False,
                    plural: bool | None = None) -> Phrase:
        """DET ADJ* N [MOD], a name or a possessive, filling about `budget` English tokens."""
        s = self.s
        if not headline and plural is None and s.random() < 0.06:
            return self.name()
        if not headline and plural is None and depth < 2 and budget >= 5 and s.random() < 0.12:
            return self.possessive(budget, depth)
        noun = self.draw("nouns")
        plural = s.random() < 0.35 if plural is None else plural
        det = "none" if headline else DET_KINDS[s.index(DET_CDF)]
        det = "def" if det == "bare" and not plural else det
        extra = budget - len(noun.en_sg.split()) - (det not in ("none", "bare"))
        n_adj = min(max(extra, 0), 3 if headline else (0, 0, 0, 1, 1, 2)[s.below(6)])
        ph = self.core_np(noun, plural, det, self.adjectives(n_adj))
        extra -= n_adj
        if extra >= 3 and depth < 2:
            if extra >= 4 and depth == 0 and s.random() < 0.35:
                return self.relative(ph, extra, depth)
            prep = ("of", "de") if s.random() < 0.5 else PREPS[s.below(len(PREPS))]
            ph.add(self.word(*prep)).add(self.noun_phrase(extra - 1, depth + 1))
        return ph

    def adjectives(self, n: int) -> list:
        """`n` distinct Zipf-distributed adjectives."""
        adjs: list = []
        while len(adjs) < n:
            a = self.draw("adjs")
            if a not in adjs:
                adjs.append(a)
        return adjs

    def core_np(self, noun, plural: bool, det: str, adjs: list) -> Phrase:
        """DET ADJ* N -> DET ADJpre* N ADJpost* (post-nominal adjectives in mirror order)."""
        fem = noun.fem
        head = self.word(noun.en_pl if plural else noun.en_sg, noun.fr_pl if plural else noun.fr_sg)
        words = [(a.prenominal, self.word(a.en, a.fr[fem + 2 * plural])) for a in adjs]
        d = self.determiner(det, fem, plural)
        en = d.en + [t for _, w in words for t in w.en] + head.en
        fr = (d.fr + [t for pre, w in words if pre for t in w.fr] + head.fr
              + [t for pre, w in reversed(words) if not pre for t in w.fr])
        return Phrase(en, fr, fem=fem, plural=plural, animate=noun.animate)

    def determiner(self, kind: str, fem: bool, plural: bool) -> Phrase:
        """English determiner and its French form agreeing in gender and number."""
        if kind == "none":
            return Phrase()
        if kind == "poss":
            owner = ("his", "her", "their")[self.s.below(3)]
            if owner == "their":
                return self.word(owner, "leurs" if plural else "leur")
            return self.word(owner, "ses" if plural else ("sa" if fem else "son"))
        en_sg, en_pl, fr_m, fr_f, fr_pl = DETERMINERS[kind]
        return self.word(en_pl if plural else en_sg, fr_pl if plural else (fr_f if fem else fr_m))

    def relative(self, head: Phrase, extra: int, depth: int) -> Phrase:
        """who/that VG [OBJ] -> qui VG [OBJ]; that SUBJ VG -> que SUBJ VG."""
        verb = self.draw("verbs")
        tense = TENSES[self.s.index([0.5, 0.9, 1.0])]
        if self.s.random() < 0.6 or not verb.transitive:
            head.add(self.word("who" if head.animate else "that", "qui"))
            vg = self.verb_group(verb, head.plural, tense, False, None)
            head.add(vg)
            if verb.transitive:
                head.add(self.noun_phrase(max(1, extra - 1 - len(vg.en)), depth + 1))
            return head
        head.add(self.word("that", "que"))
        subj = self.noun_phrase(max(1, extra - 2), depth + 1)
        return head.add(subj).add(self.verb_group(verb, subj.plural, tense, False, None))

    def possessive(self, budget: int, depth: int) -> Phrase:
        """NP 's ADJ* N -> la N ADJ* de NP (the possessor moves to the end in French)."""
        owner = self.name() if self.s.random() < 0.3 else self.noun_phrase(2, 2, plural=False)
        noun = self.draw("nouns")
        n_adj = min(max(budget - len(owner.en) - 2, 0), self.s.below(2))
        head = self.core_np(noun, self.s.random() < 0.35, "def", self.adjectives(n_adj))
        mark = self.word("'s", "de")
        out = Phrase(owner.en + mark.en + head.en[1:], head.fr + mark.fr + owner.fr,
                     fem=head.fem, plural=head.plural, animate=head.animate)
        return out

    def name(self) -> Phrase:
        """A proper name, identical in both languages."""
        name, fem = self.draw("names")
        ph = self.word(name, name)
        ph.fem, ph.animate = fem, True
        return ph


DET_KINDS = ("def", "indef", "dem", "poss", "bare")
DET_CDF = [0.5, 0.7, 0.8, 0.9, 1.0]
DETERMINERS = {"def": ("the", "the", "le", "la", "les"), "indef": ("a", "some", "un", "une", "des"),
               "dem": ("this", "these", "ce", "cette", "ces"), "bare": ("", "", "", "", "les")}
