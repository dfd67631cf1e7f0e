"""DecodeSettings: every setting of one decode, as one frozen object.

Paper: Sec. 3 / App. A (beam search). The length rule, [UNK] rule and fallbacks are GroundHog's
(sample.py); see `search.length_limits` and `corpus.py`. Every translation a user asks for (the
test-set stage, `translate input=...`, the `Translator` API) is decoded with settings built by
`from_config` from `conf/decode/*.yaml`, the one home of their defaults: the translate entry
builds them once from the composed config and the stage, the shell and the API take the object
whole. The field defaults below are the plain search that training's greedy dev BLEU builds
directly; a value outside a choice key's set is refused here too (the config refuses it when
composed), for Python callers that build settings themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch

from rnnsearch.config import Fallback, LengthRule
from rnnsearch.decoding.search import length_limits

CHOICES = {"length_rule": LengthRule, "fallback": Fallback}  # field -> its allowed values


@dataclass(frozen=True)
class DecodeSettings:
    """How to decode: search, length limits, [UNK] rule, batching and fallbacks.

    Attributes:
        beam_size: K hypotheses kept per sentence.
        length_rule: "groundhog" | "ratio" (`search.length_limits`).
        max_len_ratio: "ratio" rule: at most ratio * |x| + offset steps.
        max_len_offset: see `max_len_ratio`.
        length_normalize: rank by score / length.
        ignore_unk: forbid [UNK] in this decode (log p([UNK]) = -inf; `decode.ignore_unk`).
        batch_size: sentences decoded together.
        greedy: greedy search (training's dev BLEU) instead of beam search.
        n_best: hypotheses returned per sentence, best first.
        fallback: "groundhog": a sentence where nothing emitted EOS is decoded again, with
            [UNK] allowed under `ignore_unk`, else with twice the beam while it is under
            `fallback_max_beam` (GroundHog sample.py); "none": the capped hypothesis is kept.
        fallback_max_beam: no doubling from this beam size on (GroundHog: 500).
        replace_unk: each [UNK] of a translation becomes its most attended source word (applied
            by `Translator` to what it returns; the search and the test-set stage ignore it).
        max_input_tokens: an input sentence over this many tokens is refused, naming its line
            (`check_input_lengths`; 0: no limit).
    """

    beam_size: int = 10
    length_rule: str = "groundhog"
    max_len_ratio: float = 2.0
    max_len_offset: int = 10
    length_normalize: bool = False
    ignore_unk: bool = False
    batch_size: int = 32
    greedy: bool = False
    n_best: int = 1
    fallback: str = "none"
    fallback_max_beam: int = 500
    replace_unk: bool = False
    max_input_tokens: int = 0

    def __post_init__(self) -> None:
        for name, choice in CHOICES.items():
            allowed = [c.value for c in choice]
            if getattr(self, name) not in allowed:
                raise ValueError(f"decode.{name} must be one of {'|'.join(allowed)}, "
                                 f"got {getattr(self, name)!r}")
        if self.beam_size < 1 or self.batch_size < 1 or not 1 <= self.n_best <= self.beam_size:
            raise ValueError("decode: beam_size and batch_size must be >= 1 and n_best in "
                             f"1..beam_size, got {self.beam_size}, {self.batch_size}, "
                             f"{self.n_best}")

    @classmethod
    def from_config(cls, dcfg: Any, **changes: Any) -> DecodeSettings:
        """From a `DecodeConfig` (conf/decode), every field it has; `changes` override fields.

        `decode.ignore_unk` means one thing everywhere: the decode forbids [UNK]. Only Table 1's
        All column, which by its definition counts the [UNK] a model emits, is decoded with
        `ignore_unk=False` whatever the config says (translate_stage.py).
        """
        names = [f.name for f in fields(cls) if f.name != "greedy"]  # greedy: no config key
        return cls(**{**{k: dcfg[k] for k in names if k in dcfg}, **changes})

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (choice keys as plain strings): what translate.json records."""
        return {k: str(v) if isinstance(v, str) else v for k, v in asdict(self).items()}

    def limits(self, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(max_len, min_len) per sentence from source lengths in words (`length_limits`).

        Shapes: src_lengths (B,) -> (B,) long, (B,) long
        """
        return length_limits(src_lengths, self.length_rule, self.max_len_ratio,
                             self.max_len_offset)

    def retry(self) -> DecodeSettings | None:
        """The settings of GroundHog's next attempt when nothing finished; None: give up."""
        if self.fallback != "groundhog" or self.greedy:
            return None
        if self.ignore_unk:
            return replace(self, ignore_unk=False)
        if self.beam_size < self.fallback_max_beam:
            return replace(self, beam_size=2 * self.beam_size)
        return None


def check_input_lengths(lengths: Iterable[int], limit: int, name: str, start: int = 1) -> None:
    """Refuse an input sentence over `decode.max_input_tokens` (`limit`; 0: no limit) tokens,
    in one line naming `name` (a file, stdin or the API's input) and the sentence's line.

    Raises:
        ValueError: e.g. "test.en.tok: line 7 has 512 tokens, over decode.max_input_tokens=400".
    """
    for number, n in enumerate(lengths, start=start):
        if limit and n > limit:
            raise ValueError(f"{name}: line {number} has {n} tokens, over "
                             f"decode.max_input_tokens={limit}")
