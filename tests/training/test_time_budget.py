"""A budget of time (scale=real): the update count is sized to `trainer.max_time` from the speed
of the first updates, fixed as the stop and the end of the cosine decay, recorded, replayable.

Lightning's Timer (max_time's clock, which the estimate reads) runs on a fake clock here that
moves by set seconds per update, so the figures and the stop are the same on a busy machine.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from tests.conftest import TINY, compose_config
from tests.training.test_resume import Crash

from rnnsearch.training.fit import run

# scale=real's trainer settings (conf/trainer/real.yaml) at the toy corpus's size: no count
# given, a 60-second budget (on the fake clock), the count fixed after 6 updates (a validation
# is due there: val_check_interval 3) to fill 30% of it; smoke checkpoints every 3 updates.
REAL_LIKE = ("experiment=rnnsearch_30", "trainer.max_steps=-1", "trainer.max_time=00:00:01:00",
             "trainer.budget_window=6", "trainer.budget_margin=0.3")
MODEL_DIR = Path("artifacts/models/rnnsearch_30")


class FakeClock(L.Callback):
    """The Timer's clock: `seconds(step)` pass in the update that ends at `step`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, seconds: Callable[[int], float]) -> None:
        self.now, self.seconds = 1000.0, seconds
        timer = importlib.import_module("lightning.pytorch.callbacks.timer")
        monkeypatch.setattr(timer, "time", SimpleNamespace(monotonic=lambda: self.now))

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:  # noqa: D102
        self.now += self.seconds(trainer.global_step)


def _train(root: Path, prepared: Path, *overrides: str,
           callbacks: tuple[L.Callback, ...] = ()) -> dict:
    cfg = compose_config(root, f"data.prepared_dir={prepared}", *TINY, *REAL_LIKE, *overrides)
    summary = run(cfg, callbacks=list(callbacks))
    saved = json.loads((root / MODEL_DIR / "summary.json").read_text())
    assert saved["budget"] == summary["budget"] and saved["stop_reason"] == summary["stop_reason"]
    return saved


def _last(root: Path) -> dict:
    return torch.load(root / MODEL_DIR / "last.ckpt", weights_only=True)


@pytest.fixture(scope="module")
def estimated(tmp_path_factory: pytest.TempPathFactory, prepared_dir: Path
              ) -> Iterator[tuple[Path, dict]]:
    """One run whose count is estimated at 1 s per update: 0.3 x 60 s / 1 s = 18 updates."""
    root = tmp_path_factory.mktemp("estimated")
    with pytest.MonkeyPatch.context() as mp:
        yield root, _train(root, prepared_dir, callbacks=(FakeClock(mp, lambda step: 1.0),))


def test_the_estimated_count_is_the_stop_and_is_recorded(estimated: tuple[Path, dict]) -> None:
    root, summary = estimated
    assert summary["budget"] == {
        "updates": 18, "chosen_by": "trainer.max_time", "window_updates": 6,
        "window_seconds": 6.0, "timed_from_update": 0, "seconds_per_update": 1.0,
        "max_time_seconds": 60.0, "margin": 0.3}
    assert summary["updates"] == 18 and summary["stop_reason"] == "update_budget"
    assert summary["epochs"] == pytest.approx(18 / 12) and summary["minutes"] > 0
    ckpt = _last(root)
    assert ckpt["global_step"] == 18
    # the cosine decay ends where training ends: lr_min_ratio x lr at the estimated count
    last_lr = ckpt["lr_schedulers"][0]["_last_lr"][0]
    assert last_lr == pytest.approx(7e-3 * 0.05)


def test_replaying_the_recorded_count_gives_the_same_weights(
        estimated: tuple[Path, dict], prepared_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    root, summary = estimated
    clock = FakeClock(monkeypatch, lambda step: 2.0)  # another speed: no estimate is made
    replay = _train(tmp_path, prepared_dir, f"trainer.max_steps={summary['budget']['updates']}",
                    callbacks=(clock,))
    assert replay["budget"] == {"updates": 18, "chosen_by": "trainer.max_steps",
                                "window_updates": 6}
    assert replay["updates"] == 18 and replay["stop_reason"] == "update_budget"
    want, got = _last(root)["state_dict"], _last(tmp_path)["state_dict"]
    assert want.keys() == got.keys()
    for name in want:
        assert torch.equal(got[name], want[name]), name


def test_a_resumed_run_keeps_the_count_its_checkpoint_fixed(
        estimated: tuple[Path, dict], prepared_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed at 10 (checkpoint at 9), resumed on a machine 3x slower: a new estimate would be
    0.3 x 60 / 1.2 = 15 updates; the checkpoint's 18 are kept, and so are the weights."""
    root, summary = estimated
    clock = FakeClock(monkeypatch, lambda step: 1.0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _train(tmp_path, prepared_dir, callbacks=(clock, Crash(10)))
    assert _last(tmp_path)["global_step"] == 9
    clock.seconds = lambda step: 3.0
    resumed = _train(tmp_path, prepared_dir, "resume=true", callbacks=(clock,))
    assert resumed["budget"] == summary["budget"] and resumed["updates"] == 18
    want, got = _last(root)["state_dict"], _last(tmp_path)["state_dict"]
    for name in want:
        assert torch.equal(got[name], want[name]), name


def test_a_run_slower_than_its_window_stops_by_time(prepared_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """1 s per update for the window, then 5 s: the 0.9 x 60 s / 1 s = 54 updates fixed at
    update 6 do not fit; max_time stops the run at 6 + 11 x 5 = 61 s, update 17."""
    clock = FakeClock(monkeypatch, lambda step: 1.0 if step <= 6 else 5.0)
    summary = _train(tmp_path, prepared_dir, "trainer.budget_margin=0.9", callbacks=(clock,))
    assert summary["stop_reason"] == "time_limit" and summary["updates"] == 17
    assert summary["budget"]["updates"] == 54 and summary["budget"]["seconds_per_update"] == 1.0


WARMUP = ("trainer.budget_margin=0.9", "trainer.budget_window=10", "trainer.budget_warmup=2")
SLOW_START = {"updates": 46, "chosen_by": "trainer.max_time", "window_updates": 10,
              "warmup_seconds": 10.0, "window_seconds": 18.0, "timed_from_update": 2,
              "seconds_per_update": 1.0, "max_time_seconds": 60.0, "margin": 0.9}


def test_the_time_left_is_filled_at_the_speed_after_the_warmup(
        prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """5 s for each of the first 2 updates, then 1 s: 10 updates take 18 s, and the 36 s left
    of 0.9 x 60 s hold 36 more at 1 s, so 46 (the window's average speed would give 30)."""
    clock = FakeClock(monkeypatch, lambda step: 5.0 if step <= 2 else 1.0)
    summary = _train(tmp_path, prepared_dir, *WARMUP, callbacks=(clock,))
    assert summary["budget"] == SLOW_START
    assert summary["updates"] == 46 and summary["stop_reason"] == "update_budget"


def test_a_run_resumed_inside_its_window_keeps_the_warmups_clock(
        prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed at update 7 (checkpoint at 6, after the warmup, before the window's end): the
    resumed run times the window from the clock noted at update 2, as an unbroken run does."""
    clock = FakeClock(monkeypatch, lambda step: 5.0 if step <= 2 else 1.0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _train(tmp_path, prepared_dir, *WARMUP, callbacks=(clock, Crash(7)))
    assert _last(tmp_path)["global_step"] == 6
    resumed = _train(tmp_path, prepared_dir, *WARMUP, "resume=true", callbacks=(clock,))
    assert resumed["budget"] == SLOW_START and resumed["updates"] == 46


def test_dev_bleu_without_progress_stops_by_patience(prepared_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A count of 54 updates (fixed at update 4, no validation there), and greedy dev BLEU
    checked every 3 updates with a patience of one validation: patience ends the run first."""
    clock = FakeClock(monkeypatch, lambda step: 1.0)
    summary = _train(tmp_path, prepared_dir, "trainer.budget_margin=0.9",
                     "trainer.budget_window=4", "trainer.early_stopping_metric=dev_bleu",
                     "trainer.early_stopping_patience=1", callbacks=(clock,))
    assert summary["stop_reason"] == "early_stopping"
    assert summary["budget"]["updates"] == 54 and summary["budget"]["window_updates"] == 4
    assert summary["updates"] < 54 and summary["updates"] % 3 == 0  # at a validation
    curves = (tmp_path / "reports/curves/rnnsearch_30.csv").read_text().splitlines()[1:]
    bleu = [float(row.split(",")[-1]) for row in curves]
    assert len(bleu) >= 2 and bleu[-1] <= max(bleu[:-1])  # the last one was no better


def test_a_run_stopped_before_its_window_ends_records_no_count(prepared_dir: Path,
                                                                tmp_path: Path) -> None:
    summary = _train(tmp_path, prepared_dir, "trainer.max_time=00:00:00:00")
    assert summary["stop_reason"] == "time_limit" and summary["updates"] < 6
    assert summary["budget"] == {"updates": None, "chosen_by": "trainer.max_time",
                                 "window_updates": 6}
