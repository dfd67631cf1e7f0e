"""`train.run` end to end at toy scale: outputs, NaN stop, data errors, optimizer wiring."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import DictConfig

from rnnsearch.evaluation.checkpoint import load_model
from rnnsearch.training.checkpointing import AtomicCheckpointIO
from rnnsearch.training.fit import run
from rnnsearch.training.record import CURVE_COLUMNS

Compose = Callable[..., DictConfig]


@pytest.mark.parametrize("experiment", ["rnnsearch_30", "rnnencdec_30"])
def test_run_writes_model_dir_and_curves(train_cfg: Compose, tmp_path: Path,
                                         experiment: str) -> None:
    cfg = train_cfg(f"experiment={experiment}")
    summary = run(cfg)
    model_dir = tmp_path / "artifacts" / "models" / experiment
    for name in ("best.ckpt", "last.ckpt", "config.yaml", "summary.json"):
        assert (model_dir / name).is_file(), name
    assert len(list((model_dir / "checkpoints").glob("step*.ckpt"))) == 2  # keep_last=2
    assert json.loads((model_dir / "summary.json").read_text())["updates"] == 6
    assert summary["updates"] == 6 and summary["epochs"] > 0 and summary["hours"] > 0
    assert math.isfinite(summary["train_nll_token"]) and math.isfinite(summary["dev_nll_token"])
    # per sentence = per token x mean target length (EOS included), > per token here
    assert summary["dev_nll_sentence"] > summary["dev_nll_token"] > 0
    with open(tmp_path / "reports" / "curves" / f"{experiment}.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CURVE_COLUMNS and [r["step"] for r in rows] == ["3", "6"]
    ckpt = torch.load(model_dir / "last.ckpt", weights_only=True)  # no pickled objects
    assert ckpt["global_step"] == 6
    model, info = load_model(cfg.model, model_dir / "best.ckpt", "src", "tgt",
                             ckpt["hyper_parameters"]["src_vocab_size"],
                             ckpt["hyper_parameters"]["tgt_vocab_size"])
    assert info.step in (3, 6) and not model.training


class _Poison(L.Callback):
    """Turn one weight into NaN just before step `step`."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object,
                             batch_idx: int) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.parameters()).fill_(float("nan"))


def test_nan_loss_stops_naming_step_and_keeps_last_good_checkpoint(train_cfg: Compose,
                                                                    tmp_path: Path) -> None:
    cfg = train_cfg("experiment=rnnsearch_30", "trainer.max_steps=10")
    with pytest.raises(FloatingPointError, match=r"at step 4 .*last good checkpoint: .*last\.ckpt"):
        run(cfg, callbacks=[_Poison(step=4)])
    last = torch.load(tmp_path / "artifacts/models/rnnsearch_30/last.ckpt", weights_only=True)
    assert last["global_step"] == 3
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values())


def test_missing_prepared_dir_names_the_command(compose_cfg: Compose, tmp_path: Path) -> None:
    cfg = compose_cfg(f"data.prepared_dir={tmp_path / 'nowhere'}", "trainer=smoke")
    with pytest.raises(FileNotFoundError, match=r"python -m rnnsearch\.prepare data=embedded"):
        run(cfg)


def test_resume_without_checkpoint_fails_clearly(train_cfg: Compose) -> None:
    with pytest.raises(FileNotFoundError, match="resume=true but .*last.ckpt does not exist"):
        run(train_cfg("resume=true"))


def test_adam_ablation_builds_without_adadelta_only_keys(train_cfg: Compose) -> None:
    summary = run(train_cfg("optim=adam", "trainer.max_steps=2", "trainer.val_check_interval=2"))
    assert summary["updates"] == 2


def test_atomic_checkpoint_io_never_leaves_a_partial_file(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"w": torch.ones(2)}, target)

    class Unpicklable:
        def __reduce__(self) -> tuple:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        io.save_checkpoint({"w": torch.zeros(2), "x": Unpicklable()}, target)
    assert torch.equal(io.load_checkpoint(target)["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
