"""One W&B run per model: training keeps its run id in the model directory (wandb_run_id.txt)
itself, and evaluate's test results go to that run, with the same name and group.

Offline W&B (the default) writes each `wandb.init` to its own directory,
`offline-run-<time>-<run id>`, whose `run-<id>.wandb` transaction log `wandb sync` uploads
later; the two inits of one run (training, then evaluate resuming it) are two such directories
with one id. The tests read the run records of those logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from omegaconf import DictConfig
from tests.conftest import TINY_MODEL, compose_config
from wandb.proto import wandb_internal_pb2

from rnnsearch import evaluate, generate, prepare, train, translate

EXP = "rnnsearch_30"
TINY = (
    "data.embedded.n_train=100", "data.embedded.n_dev=10", "data.embedded.n_test=20",
    "data.vocab_size=120", *TINY_MODEL, "data.batch_size=16", "data.sort_batches=2",
    "data.dev_bleu_sentences=4", "trainer=smoke", "decode.beam_size=2", "decode.batch_size=8",
    "eval.bootstrap_samples=10", f"experiment={EXP}", "logger.n_sample_translations=1",
)
WANDB = ("logger=wandb", "logger.group=seeds_demo")  # the group a sweep would give its runs
BLOCK, CHUNK_HEADER, FILE_HEADER = 32768, 7, 7  # W&B's LevelDB-style log (":W&B" + magic + v)


def offline_records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    """The records of an offline run's `.wandb` log: 32 KiB blocks of chunks, each a 7-byte
    header (crc32 4, length 2 little-endian, kind 1: full 1, first 2, middle 3, last 4) and
    its bytes; a block's tail shorter than a header is padding."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    pos, pending = FILE_HEADER, b""
    while pos + CHUNK_HEADER <= len(data):
        if BLOCK - pos % BLOCK < CHUNK_HEADER:
            pos += BLOCK - pos % BLOCK
            continue
        length, kind = int.from_bytes(data[pos + 4: pos + 6], "little"), data[pos + 6]
        pending += data[pos + CHUNK_HEADER: pos + CHUNK_HEADER + length]
        pos += CHUNK_HEADER + length
        if kind in (1, 4):
            yield wandb_internal_pb2.Record.FromString(pending)
            pending = b""


def run_record(log: Path) -> tuple[wandb_internal_pb2.RunRecord, set[str]]:
    """The run record of an offline log, and the keys of everything it logged."""
    run, keys = None, set()
    for record in offline_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
        elif kind in ("history", "summary"):
            items = record.history.item if kind == "history" else record.summary.update
            keys |= {item.key or "/".join(item.nested_key) for item in items}
    assert run is not None, f"no run record in {log}"
    return run, keys


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny corpus, prepared; W&B at its default (offline) and without any network."""
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # any network use would fail
    generate.run(_cfg(tmp_path))
    prepare.run(_cfg(tmp_path))
    return tmp_path


def _cfg(root: Path, *overrides: str) -> DictConfig:
    return compose_config(root, *TINY, *overrides)


def test_training_keeps_its_run_id_and_evaluate_logs_into_that_run(root: Path) -> None:
    id_file = root / "artifacts" / "models" / EXP / "wandb_run_id.txt"
    offline = root / "artifacts" / "wandb" / "wandb"
    train.run(_cfg(root, *WANDB))
    run_id = id_file.read_text().strip()  # written by training, not by this test
    (trained,) = offline.glob(f"offline-run-*-{run_id}")
    translate.run(_cfg(root))
    evaluate.run(_cfg(root, *WANDB))
    assert id_file.read_text().strip() == run_id  # evaluate reuses it, never replaces it
    runs = sorted(offline.glob("offline-run-*"))
    assert len(runs) == 2 and all(p.name.endswith(f"-{run_id}") for p in runs), runs
    (evaluated,) = [p for p in runs if p != trained]
    train_run, train_keys = run_record(trained / f"run-{run_id}.wandb")
    eval_run, eval_keys = run_record(evaluated / f"run-{run_id}.wandb")
    for run in (train_run, eval_run):
        assert (run.run_id, run.display_name, run.run_group, run.project) == (
            run_id, EXP, "seeds_demo", "rnnsearch")
    assert {"train/loss", "val/bleu_greedy"} <= train_keys
    assert {"test/bleu_all", "test/bleu_detok_all", "test/aer"} <= eval_keys
