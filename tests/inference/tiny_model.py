"""The translate tests' tiny model config (`TINY`; trained by conftest.py's `trained`), and
ways to run the shell on it: in this process (`cfg_for` + `translate.run`) or as
`python -m rnnsearch.translate` (`run_shell`).

The model trains 300 updates (about 15 s): enough that its n-best scores are well apart (gaps of
0.1 and more in log p, where 6 updates leave 1e-5) and that it emits words as well as [UNK], so
that the [UNK] rules change what a user reads.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import torch
from omegaconf import DictConfig
from tests.conftest import TINY_MODEL, compose_config

from rnnsearch import Translator
from rnnsearch.data.vocab import BOS_ID, EOS_ID
from rnnsearch.inference.translator import Translation

ROOT = Path(__file__).resolve().parents[2]
EXP = "rnnsearch_30"
TINY = (
    "data.embedded.n_train=200", "data.embedded.n_dev=10", "data.embedded.n_test=24",
    "data.vocab_size=120", *TINY_MODEL, "data.batch_size=16", "data.sort_batches=2",
    "data.dev_bleu_sentences=4", "trainer=smoke", "trainer.max_steps=300",
    "trainer.val_check_interval=100", "trainer.checkpoint_every_n_steps=100",
    "decode.beam_size=3", "decode.batch_size=8", f"experiment={EXP}", "logger=none",
)
ALL_COLUMN = ("decode.ignore_unk=false",)  # the test stage's All column allows [UNK]


def cfg_for(root: Path, *overrides: str) -> DictConfig:
    """The tests' composed config, outputs under `root`."""
    return compose_config(root, *TINY, *overrides)


def raw_test(root: Path) -> Path:
    """The raw English test split, as a user's input file."""
    path = root / "raw_test.en"
    with gzip.open(root / "data/embedded/test.en.gz", "rt", encoding="utf-8") as fh:
        path.write_text(fh.read(), encoding="utf-8")
    return path


SHELL_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def shell_command(trained: Path, *args: str) -> list[str]:
    """`python -m rnnsearch.translate` with the tests' config and `args` (no decode overrides)."""
    return [sys.executable, "-m", "rnnsearch.translate", f"paths.root_dir={trained}", *TINY, *args]


def run_shell(trained: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run `shell_command` to its end (in `SHELL_ENV`)."""
    return subprocess.run(shell_command(trained, *args), input=stdin, capture_output=True,
                          text=True, env=SHELL_ENV, timeout=300, check=False)


def forced_log_p(translator: Translator, hyp: Translation) -> float:
    """log p(y | x) of a hypothesis, recomputed by a teacher-forced pass in float64: the sum of
    log p of its words, and of EOS if it ended (its attention then has a row for EOS)."""
    src = torch.tensor([[*translator.src_vocab.encode(hyp.source_tokens), EOS_ID]])  # (1, S)
    ids = translator.tgt_vocab.encode(hyp.tokens)
    out = ids + ([EOS_ID] if hyp.attention.shape[0] == len(ids) + 1 else [])
    tgt_in = torch.tensor([[BOS_ID, *out[:-1]]])  # (1, T)
    with torch.no_grad():
        logits = translator.model(src, src != 0, tgt_in)  # (1, T, V)
    logp = torch.log_softmax(logits.double(), dim=-1)[0]  # (T, V)
    return float(sum(logp[t, y] for t, y in enumerate(out)))
