"""Shared fixtures: repository paths, Hydra composition with test-friendly overrides, and a tiny
prepared corpus with the tiny-model config that trains on it in seconds (`train_cfg`)."""

from __future__ import annotations

import functools
import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf
from torch import nn

from rnnsearch.config import ModelConfig, register_configs
from rnnsearch.data.parallel_files import save_split
from rnnsearch.data.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, Vocabulary
from rnnsearch.models import Seq2Seq, build_model

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"

torch.set_num_threads(1)  # CI has two cores; keep tests from oversubscribing them


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real WMT'14 samples beside the checkout; tests using it skip when it is absent."""
    path = SHARED_DIR / "data" / "real"
    if not path.is_dir():
        pytest.skip("real WMT'14 samples (../shared/data/real) not available")
    return path


def compose_config(root: Path | str, *overrides: str, return_hydra_config: bool = False
                   ) -> DictConfig:
    """Compose `conf/config.yaml` with every output path under `root`, W&B off (`logger=none`)
    unless an override names another logger; for module- or session-scoped fixtures."""
    register_configs()
    GlobalHydra.instance().clear()
    base = [f"paths.root_dir={root}"]
    if not any(override.startswith("logger=") for override in overrides):
        base.append("logger=none")
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*base, *overrides],
                      return_hydra_config=return_hydra_config)
    GlobalHydra.instance().clear()
    return cfg


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose `conf/config.yaml` with overrides; every output path points into tmp_path."""

    def _compose(*overrides: str, root: Path | None = None) -> DictConfig:
        return compose_config(root or tmp_path, *overrides)

    yield _compose
    GlobalHydra.instance().clear()


N_WORDS = 20  # content words per language


def _pairs(rng: np.random.Generator, n: int, max_len: int) -> tuple[list, list]:
    """Reverse-copy task: target word k+4 translates source word k+4, in reverse order."""
    src = [rng.integers(4, 4 + N_WORDS, size=rng.integers(2, max_len + 1)) for _ in range(n)]
    return [s.astype(np.int32) for s in src], [s[::-1].astype(np.int32) for s in src]


def write_prepared(root: Path, n_train: int = 96, n_dev: int = 12, seed: int = 0) -> Path:
    """A prepared dir in `rnnsearch.prepare`'s layout (vocabs, id arrays, dev/test text, stats)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    src_vocab = Vocabulary([*SPECIALS, *(f"w{k}" for k in range(N_WORDS))])
    tgt_vocab = Vocabulary([*SPECIALS, *(f"m{k}" for k in range(N_WORDS))])
    src_vocab.save(root / "vocab.en.txt")
    tgt_vocab.save(root / "vocab.fr.txt")
    for split, n in (("train", n_train), ("dev", n_dev), ("test", n_dev)):
        src, tgt = _pairs(rng, n, max_len=9)
        save_split(root, split, src, tgt)
        if split == "train":
            continue
        for lang, vocab, seqs in (("en", src_vocab, src), ("fr", tgt_vocab, tgt)):
            lines = "".join(" ".join(vocab.decode(s)) + "\n" for s in seqs)
            (root / f"{split}.{lang}.tok").write_text(lines)
            (root / f"{split}.{lang}.raw").write_text(lines)
    # the settings `train_cfg` composes (data=embedded scale=demo), as prepare records them
    settings = {"data": "embedded", "scale": "demo", "vocab_size": 700, "prepare_max_len": 50,
                "vocab_count": "kept_pairs"}
    (root / "stats.json").write_text(json.dumps({**settings, "train_pairs": n_train}))
    return root


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_prepared(tmp_path_factory.mktemp("prepared") / "toy")


# conf/scale/tiny.yaml's model sizes, as overrides on the default scale=demo (whose optimizer the
# tests keep; scale=tiny itself would also change the trainer's budget and the vocabulary).
_TINY_SCALE = OmegaConf.load(REPO_ROOT / "conf" / "scale" / "tiny.yaml")
TINY_MODEL = tuple(f"model.{key}={_TINY_SCALE.model[key]}"
                   for key in ("emb_dim", "hidden_dim", "attn_dim", "maxout_dim"))
TINY = (
    *TINY_MODEL, "data.batch_size=8", "data.sort_batches=3", "data.dev_bleu_sentences=6",
    "trainer=smoke", "decode.batch_size=8",
)


# 96 toy pairs / batch 8 = 12 updates per epoch: 14 updates cross an epoch boundary; periodic
# checkpoints every 4 updates, so a stop at 10 is mid-epoch and between checkpoints (the last at 8).
RESUME_SCHEDULE = ("trainer.max_steps=14", "trainer.checkpoint_every_n_steps=4",
                   "trainer.val_check_interval=5", "experiment=rnnsearch_30")


# The embedded corpus cut down for the seed-sweep tests (tests/pipeline, tests/cluster): translate
# and evaluate need the prepared text, which the toy corpus above lacks.
SWEEP = (
    "data.embedded.n_train=200", "data.embedded.n_dev=16", "data.embedded.n_test=40",
    "data.vocab_size=120", *TINY_MODEL, "data.batch_size=16", "data.dev_bleu_sentences=4",
    "trainer=smoke", "decode.beam_size=2", "decode.batch_size=16", "eval.bootstrap_samples=10",
    "logger=none",
)


@pytest.fixture(scope="session")
def tiny_overrides() -> tuple[str, ...]:
    """The tiny-model / smoke-trainer overrides, for command lines."""
    return TINY


@pytest.fixture
def train_cfg(compose_cfg: Callable[..., DictConfig], prepared_dir: Path
              ) -> Callable[..., DictConfig]:
    """Compose a tiny CPU training config on the toy corpus; extra overrides win."""

    def _compose(*overrides: str, root: Path | None = None) -> DictConfig:
        return compose_cfg(f"data.prepared_dir={prepared_dir}", *TINY, *overrides, root=root)

    return _compose


# A local HTTP server for download tests (the WMT'14 recipe); nothing leaves 127.0.0.1.
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any socket connection to a non-loopback address; ignore proxy settings."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"test tried to reach {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def http_dir(tmp_path: Path, loopback_only: None) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1: yields (directory, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# Toy models for search, decoding and alignment tests (tests/decoding, tests/evaluation).
TOY_SRC_V, TOY_TGT_V = 11, 13  # toy models' vocabularies (tests/decoding/test_corpus_decoder.py)


@pytest.fixture
def toy_model() -> Callable[..., Seq2Seq]:
    """Build a tiny float64 RNNsearch/RNNencdec whose word distributions are far from uniform.

    The paper's init (std 0.01, v_a = 0) gives near-uniform outputs, where argmax ties make search
    comparisons meaningless; std 0.5 weights make every choice clear-cut. `eos_bias` raises
    p(EOS) so hypotheses end at different lengths; PAD and BOS are made unlikely, as after
    training. The decoder is the config default (readout_state=groundhog).
    """

    def _build(attention: bool, seed: int = 0, eos_bias: float = 1.5) -> Seq2Seq:
        torch.manual_seed(seed)
        cfg = ModelConfig(
            name="rnnsearch" if attention else "rnnencdec", attention=attention,
            bidirectional=attention, emb_dim=8, hidden_dim=10, attn_dim=9, maxout_dim=6,
        )
        model = build_model(cfg, TOY_SRC_V, TOY_TGT_V).double().eval()
        with torch.no_grad():
            for param in model.parameters():
                nn.init.normal_(param, std=0.5)
            model.decoder.readout.W_o.bias[EOS_ID] += eos_bias
            model.decoder.readout.W_o.bias[[PAD_ID, BOS_ID]] -= 10.0  # never emitted once trained
        return model

    return _build


@pytest.fixture
def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Three source sentences of lengths 6, 3, 5, padded with PAD_ID = 0. Shapes: (3, 6) each."""
    g = torch.Generator().manual_seed(7)
    lengths = [6, 3, 5]
    src = torch.zeros(3, 6, dtype=torch.long)
    for b, n in enumerate(lengths):
        src[b, :n] = torch.randint(4, TOY_SRC_V, (n,), generator=g)
    return src, src != 0
