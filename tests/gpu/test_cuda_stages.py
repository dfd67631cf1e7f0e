"""The stages on CUDA, as `trainer=gpu` runs them: Lightning's bf16-mixed training (with greedy
dev BLEU on the GPU), batches moved and pinned, `load_model(device=)` and the translate stage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import DictConfig

from rnnsearch.data.batching import collate_pairs
from rnnsearch.data.vocab import Vocabulary
from rnnsearch.decoding.settings import DecodeSettings
from rnnsearch.evaluation import translate_stage
from rnnsearch.evaluation.checkpoint import load_model
from rnnsearch.training.fit import run as train

pytestmark = pytest.mark.gpu
Compose = Callable[..., DictConfig]
GPU = ("trainer.accelerator=gpu", "trainer.precision=bf16-mixed", "trainer.max_steps=12",
       "trainer.bleu_every_n_evals=1", "experiment=rnnsearch_30")


def test_batch_pins_and_moves_every_field(cuda) -> None:
    batch = collate_pairs([(np.array([5, 6, 7]), np.array([8, 9])), (np.array([5]), np.array([8]))])
    pinned = batch.pin_memory()
    moved = pinned.to(cuda, non_blocking=True)
    for name in ("src_ids", "src_mask", "tgt_in", "tgt_out", "tgt_mask"):
        assert getattr(pinned, name).is_pinned(), name
        assert getattr(moved, name).device.type == "cuda", name
        assert torch.equal(getattr(moved, name).cpu(), getattr(batch, name)), name


def test_bf16_mixed_trainer_run_then_translate_on_cuda(cuda, train_cfg: Compose,
                                                       prepared_dir: Path) -> None:
    """Lightning's bf16-mixed path (not the benchmark's hand-written update) trains with finite
    losses and fp32 weights; dev greedy BLEU and the translate stage run on the GPU."""
    cfg = train_cfg(*GPU)
    summary = train(cfg)
    assert summary["updates"] == 12 and summary["device"] == torch.cuda.get_device_name(cuda)
    for key in ("train_nll_token", "dev_nll_token", "val_bleu_greedy"):
        assert np.isfinite(summary[key]), key  # BLEU: greedy decoding ran at validation
    sizes = [len(Vocabulary.load(prepared_dir / f"vocab.{lang}.txt")) for lang in ("en", "fr")]
    best = Path(cfg.paths.model_dir) / "best.ckpt"
    model, _ = load_model(cfg.model, best, "v.en", "v.fr", *sizes, device=cuda)
    assert {p.device.type for p in model.parameters()} == {"cuda"}
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # bf16-mixed keeps fp32
    info = translate_stage.run(cfg, DecodeSettings.from_config(cfg.decode))
    assert info["device"] == "cuda"
    written = json.loads((Path(cfg.paths.translation_dir) / "translate.json").read_text())
    hyps = (Path(cfg.paths.translation_dir) / "test.hyp.tok").read_text().splitlines()
    assert written["n_sentences"] == len(hyps) == 12
