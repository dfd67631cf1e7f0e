"""Two-process DDP training on CPU (gloo), as `trainer.devices=2 trainer.strategy=ddp` runs it.

Each rank takes every second App. B.2 minibatch of the one-process order. A run killed with
SIGKILL (the launcher alone, or both ranks) and rerun ends with the weights and curves of an
uninterrupted one; only rank 0 writes. A SIGTERM to the launcher alone or to every rank
checkpoints the update both ranks are in, ends both with 143 and no traceback, and the rerun ends
as an uninterrupted run. The logged train NLL sums both ranks' minibatches, and the sharded dev
NLL is the one-process value. A 2-rank checkpoint resumed on one device continues the same
minibatch sequence. About two minutes on two cores (most of it process and gloo start-up).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import DictConfig
from tests.conftest import TINY

from rnnsearch.data.batching import make_batch_sampler, pair_lengths
from rnnsearch.data.parallel_files import load_split
from rnnsearch.training.datamodule import ParallelTextDataModule, filter_by_length
from rnnsearch.training.lit_module import TranslationModule

# the module's two-process run (400 s), then a kill, its waits and the rerun (820 s)
pytestmark = pytest.mark.timeout(1200)

Compose = Callable[..., DictConfig]
WORKER = Path(__file__).with_name("ddp_worker.py")
# 96 toy pairs / batch 8 = 12 minibatches per epoch: 6 updates per epoch on 2 ranks.
SCHEDULE = ("experiment=rnnsearch_30", "trainer.max_steps=12", "trainer.checkpoint_every_n_steps=4",
            "trainer.val_check_interval=6", "trainer.accelerator=cpu",
            "trainer.precision=32-true")
MODEL = Path("artifacts") / "models" / "rnnsearch_30"


def _overrides(root: Path, prepared: Path, devices: int, *extra: str) -> list[str]:
    strategy = "ddp" if devices > 1 else "auto"
    return [f"paths.root_dir={root}", "logger=none", f"data.prepared_dir={prepared}", *TINY,
            *SCHEDULE, f"trainer.devices={devices}", f"trainer.strategy={strategy}", *extra]


def _start(root: Path, prepared: Path, devices: int, *extra: str,
           delay_s: float = 0.0) -> subprocess.Popen:
    root.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(WORKER), str(root / "batches.jsonl"), str(root / "writes.txt"),
           str(delay_s), *_overrides(root, prepared, devices, *extra)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-3000:]
    return out


def _batches(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "batches.jsonl").read_text().splitlines()]


def _weights(root: Path) -> dict[str, torch.Tensor]:
    return torch.load(root / MODEL / "last.ckpt", weights_only=True)["state_dict"]


def _curves(root: Path) -> list[dict[str, str]]:
    with open(root / "reports" / "curves" / "rnnsearch_30.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, prepared_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("ddp_whole")
    (root / "output.txt").write_text(_finish(_start(root, prepared_dir, 2)))
    return root


def _one_process_order(cfg: DictConfig, epoch: int) -> list[list[int]]:
    """The minibatches of `epoch` as one process trains them (independent of the run)."""
    pairs = filter_by_length(load_split(Path(cfg.data.prepared_dir), "train"), cfg.data.max_len)
    sampler = make_batch_sampler(pair_lengths(pairs.src, pairs.tgt), cfg.seed,
                                 cfg.data.batch_size, cfg.data.sort_batches, cfg.data.batch_order)
    sampler.sampler.set_epoch(epoch)
    return list(sampler)


def test_ranks_split_the_one_process_sequence(uninterrupted: Path, train_cfg: Compose) -> None:
    cfg = train_cfg(*SCHEDULE)
    rows = _batches(uninterrupted)
    assert sorted((r["rank"], r["update"]) for r in rows) == [
        (rank, update) for rank in (0, 1) for update in range(1, 13)]
    for row in rows:  # update u of epoch e: minibatches 2k and 2k + 1 of the epoch, k = u - 1 - 6e
        k = row["update"] - 1 - 6 * row["epoch"]
        assert row["batch"] == _one_process_order(cfg, row["epoch"])[2 * k + row["rank"]]
    for epoch in (0, 1):
        seen = [i for r in rows if r["epoch"] == epoch for i in r["batch"]]
        assert sorted(seen) == list(range(96))  # disjoint, and together every pair once


def test_only_rank_zero_writes(uninterrupted: Path) -> None:
    assert (uninterrupted / "writes.txt").read_text() == ""  # rank 1 opened nothing for writing
    for name in ("last.ckpt", "best.ckpt", "summary.json", "config.yaml"):
        assert (uninterrupted / MODEL / name).is_file()
    assert (uninterrupted / "reports" / "curves" / "rnnsearch_30.csv").is_file()


def test_gradients_fill_the_ddp_buckets_without_a_copy(uninterrupted: Path) -> None:
    # DDP warns when a parameter's gradient has other strides than its bucket view (a copy per
    # update); the attention scan returned v_a's gradient transposed.
    assert "Grad strides do not match" not in (uninterrupted / "output.txt").read_text()


def _start_and_wait_for_update_4(root: Path, prepared: Path) -> subprocess.Popen:
    """A 2-process run, slowed to 0.5 s per update, once its update-4 checkpoint exists."""
    proc = _start(root, prepared, 2, delay_s=0.5)
    first = root / MODEL / "checkpoints" / "step0000004.ckpt"
    deadline = time.monotonic() + 300
    while not first.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    return proc


def _assert_rerun_equals_uninterrupted(root: Path, prepared: Path, uninterrupted: Path) -> None:
    _finish(_start(root, prepared, 2))
    want, got = _weights(uninterrupted), _weights(root)
    assert want.keys() == got.keys()
    for name in want:
        assert torch.equal(got[name], want[name]), name
    assert _curves(root) == _curves(uninterrupted)


def _group_gone(pgid: int, timeout_s: float) -> bool:
    """Whether every process of the run's process group (both ranks) has exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("whole_group", [False, True], ids=["launcher-only", "both-ranks"])
def test_kill_9_and_rerun_equals_the_uninterrupted_run(uninterrupted: Path, prepared_dir: Path,
                                                       tmp_path: Path, whole_group: bool) -> None:
    proc = _start_and_wait_for_update_4(tmp_path, prepared_dir)
    if whole_group:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the rank it started, at once
    else:
        os.kill(proc.pid, signal.SIGKILL)  # rank 1 then fails in its next collective
    proc.communicate(timeout=60)
    assert _group_gone(proc.pid, 60), "rank 1 outlived the killed launcher"
    stopped = torch.load(tmp_path / MODEL / "last.ckpt", weights_only=True)["global_step"]
    assert stopped in (4, 8)
    _assert_rerun_equals_uninterrupted(tmp_path, prepared_dir, uninterrupted)


@pytest.mark.parametrize("to_every_rank", [False, True], ids=["launcher-only", "every-rank"])
def test_sigterm_checkpoints_both_ranks_and_the_rerun_equals_the_uninterrupted_run(
        uninterrupted: Path, prepared_dir: Path, tmp_path: Path, to_every_rank: bool) -> None:
    # `timeout` signals the launcher (rank 0) alone, SLURM every task. Rank 1 learns of the
    # signal from the ranks' vote at the end of the update, so both stop at the same update.
    proc = _start_and_wait_for_update_4(tmp_path, prepared_dir)
    if to_every_rank:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, out[-3000:]
    assert _group_gone(proc.pid, 30), "rank 1 is still running after the launcher exited"
    assert "Traceback" not in out, out[-3000:]
    stops = [line for line in out.splitlines() if "SIGTERM at update" in line]
    assert len(stops) == 2, out[-3000:]  # one line per rank, the same update in both
    updates = {int(line.split("SIGTERM at update ")[1].split(":")[0]) for line in stops}
    assert len(updates) == 1 and 4 <= (stopped := updates.pop()) < 12
    assert torch.load(tmp_path / MODEL / "last.ckpt", weights_only=True)["global_step"] == stopped
    _assert_rerun_equals_uninterrupted(tmp_path, prepared_dir, uninterrupted)


def test_sharded_dev_nll_equals_one_process_validation(uninterrupted: Path,
                                                       train_cfg: Compose) -> None:
    # Rank 0 validates the 8-pair dev batch and rank 1 the 4-pair one; their sums are gathered.
    cfg = train_cfg(*SCHEDULE)
    dm = ParallelTextDataModule(cfg.data, cfg.seed)
    module = TranslationModule.from_config(cfg, len(dm.src_vocab), len(dm.tgt_vocab))
    module.load_state_dict(_weights(uninterrupted))  # the weights after update 12
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, enable_model_summary=False,
                        limit_val_batches=cfg.trainer.limit_val_batches)
    [one_process] = trainer.validate(module, datamodule=dm, verbose=False)
    [two_ranks] = [row for row in _curves(uninterrupted) if row["step"] == "12"]
    for name in ("val/loss", "val/nll_sentence", "val/ppl"):
        assert float(two_ranks[name]) == pytest.approx(one_process[name], rel=1e-6), name


def test_train_nll_is_summed_over_the_ranks(uninterrupted: Path, train_cfg: Compose) -> None:
    # Each rank logs, and rank 0 writes to the curves, the NLL of both ranks' minibatches of the
    # update (the all_reduce in TranslationModule._over_ranks), not its own minibatch's.
    scale = train_cfg(*SCHEDULE).optim.loss_scale  # a step's loss: its own NLL sum / this
    rows = _batches(uninterrupted)
    for r in rows:
        r["own_nll"] = r["own_loss"] * {"sum": 1, "sentence": len(r["batch"]),
                                        "token": r["own_tokens"]}[scale]
    own = {}  # update -> (NLL, target tokens, sentences) of both ranks' minibatches together
    for update in range(1, 13):
        ranks = [r for r in rows if r["update"] == update]
        assert sorted(r["rank"] for r in ranks) == [0, 1]
        own[update] = (sum(r["own_nll"] for r in ranks), sum(r["own_tokens"] for r in ranks),
                       sum(len(r["batch"]) for r in ranks))
        for r in ranks:
            assert r["nll_sum"] == pytest.approx(own[update][0], rel=1e-5), (update, r["rank"])
            assert (r["n_tokens"], r["n_sentences"]) == own[update][1:], (update, r["rank"])
    curve_steps = [0]
    for row in _curves(uninterrupted):  # train/* columns: the updates since the last validation
        step = int(row["step"])
        nll, tokens, sentences = (sum(own[u][k] for u in range(curve_steps[-1] + 1, step + 1))
                                  for k in range(3))
        assert float(row["train/loss"]) == pytest.approx(nll / tokens, rel=1e-5), step
        assert float(row["train/nll_sentence"]) == pytest.approx(nll / sentences, rel=1e-5)
        curve_steps.append(step)
    assert curve_steps == [0, 6, 12]


def test_two_rank_checkpoint_resumes_on_one_device(uninterrupted: Path, prepared_dir: Path,
                                                   tmp_path: Path, train_cfg: Compose) -> None:
    (tmp_path / MODEL).mkdir(parents=True)
    shutil.copyfile(uninterrupted / MODEL / "checkpoints" / "step0000008.ckpt",
                    tmp_path / MODEL / "last.ckpt")  # update 8: epoch 1, 2 x 2 minibatches in
    _finish(_start(tmp_path, prepared_dir, 1, "trainer.max_steps=11"))
    rows = _batches(tmp_path)
    order = _one_process_order(train_cfg(*SCHEDULE), 1)
    assert [(r["update"], r["epoch"]) for r in rows] == [(9, 1), (10, 1), (11, 1)]
    assert [r["batch"] for r in rows] == order[4:7]  # the next minibatches, none twice


def test_values_gathered_on_every_rank_are_logged_without_sync_warnings(
        uninterrupted: Path) -> None:
    # val/loss, val/nll_sentence, val/ppl and val/bleu_greedy are identical on every rank after
    # the gather; Lightning warned "use sync_dist=True" for each of them on every run.
    assert "sync_dist" not in (uninterrupted / "output.txt").read_text()


def test_dev_batches_are_sharded_disjointly_over_ranks() -> None:
    from rnnsearch.training.datamodule import shard_batches

    batches = [[i, i + 100] for i in range(7)]
    shares = [shard_batches(batches, rank, 2) for rank in range(2)]
    assert sorted(b[0] for share in shares for b in share) == list(range(7))  # each batch once
    assert shares[0] == batches[0::2] and shares[1] == batches[1::2]
    limited = [shard_batches(batches, rank, 2, limit=3) for rank in range(2)]
    assert sorted(b[0] for share in limited for b in share) == [0, 1, 2]  # the 1-process limit
    with pytest.raises(ValueError, match="fewer than trainer.devices=3"):
        shard_batches(batches[:2], 0, 3)  # a rank without a batch would wait in the gather


def test_ddp_in_a_basic_launcher_multirun_is_refused_in_one_line(prepared_dir: Path,
                                                                tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "rnnsearch.train", "-m", *_overrides(tmp_path, prepared_dir, 2),
           f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("rnnsearch.train:")]
    assert len(errors) == 1 and "trainer.devices=2" in errors[0]
    assert "hydra/launcher=slurm" in errors[0]
    assert not (tmp_path / MODEL).exists()


def test_the_slurm_launcher_is_not_refused() -> None:
    from rnnsearch.config_checks import check_multirun_devices

    check_multirun_devices(2, True, "hydra_plugins.hydra_submitit_launcher.submitit_launcher"
                                    ".SlurmLauncher")  # each task is a rank
    check_multirun_devices(1, True, "hydra._internal.core_plugins.basic_launcher.BasicLauncher")
    with pytest.raises(ValueError, match="hydra/launcher=basic"):
        check_multirun_devices(2, True,
                               "hydra._internal.core_plugins.basic_launcher.BasicLauncher")
