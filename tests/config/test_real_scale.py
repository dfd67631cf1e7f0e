"""The real-corpus CPU preset: `data=parallel_text` alone selects `scale=real`; `scale=` wins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

from rnnsearch.cli import with_corpus_scale
from rnnsearch.config_checks import check_config

REPO_ROOT = Path(__file__).resolve().parents[2]
USER = ["data=parallel_text", "data.raw_dir=/corpus", "data.src_lang=de", "data.tgt_lang=en"]


@pytest.mark.parametrize(("argv", "expected"), [
    (USER, [USER[0], "scale=real", *USER[1:]]),
    ([*USER, "scale=demo"], [*USER, "scale=demo"]),  # an explicit scale wins
    (["scale=paper", *USER], ["scale=paper", *USER]),
    (["data=embedded", "experiment=rnnsearch_30"], ["data=embedded", "experiment=rnnsearch_30"]),
    (["experiment=rnnsearch_30"], ["experiment=rnnsearch_30"]),
])
def test_the_corpus_preset_is_added_only_without_a_scale(argv: list[str],
                                                          expected: list[str]) -> None:
    assert with_corpus_scale(argv) == expected


def test_the_preset_composes_for_parallel_text(compose_cfg: Callable[..., DictConfig]) -> None:
    cfg = compose_cfg(*with_corpus_scale([*USER, "experiment=rnnsearch_30"]))
    preset = OmegaConf.load(REPO_ROOT / "conf" / "scale" / "real.yaml")
    budget = OmegaConf.load(REPO_ROOT / "conf" / "trainer" / "real.yaml")
    assert cfg.scale_name == "real" and cfg.data.name == "parallel_text"
    assert cfg.data.vocab_size == "auto"
    for key in ("vocab_coverage", "vocab_max", "batch_size"):
        assert cfg.data[key] == preset.data[key]
    for key in ("emb_dim", "hidden_dim", "attn_dim", "maxout_dim"):
        assert cfg.model[key] == preset.model[key]
    optimizer = cfg.optim.optimizer
    assert optimizer._target_ == "torch.optim.Adam" and optimizer.lr == preset.optim.optimizer.lr
    # a budget of time: no update count given, one sized to max_time, dev BLEU's patience
    assert cfg.trainer.max_steps == -1 and not cfg.trainer.max_steps_by_experiment
    assert cfg.trainer.budget_window == budget.budget_window > 0
    assert cfg.trainer.early_stopping_metric == "dev_bleu"
    assert cfg.trainer.early_stopping_patience == budget.early_stopping_patience
    check_config(cfg, trains=True)  # the cosine decay has a budget: the estimated one
    assert cfg.trainer.max_time == "00:00:20:00"
    assert cfg.data.max_len == 30  # the experiment still sets its length cap
    assert cfg.data.units == "bpe" == preset.data.units  # subwords (ours) for a user's corpus
    assert cfg.data.subword_vocab_size == preset.data.subword_vocab_size
    assert cfg.data.dev_max_len == preset.data.dev_max_len  # counted in pieces


def test_an_explicit_scale_keeps_its_settings(compose_cfg: Callable[..., DictConfig]) -> None:
    cfg = compose_cfg(*with_corpus_scale([*USER, "scale=demo"]))
    demo = OmegaConf.load(REPO_ROOT / "conf" / "scale" / "demo.yaml")
    assert cfg.scale_name == "demo" and cfg.data.vocab_size == demo.data.vocab_size
    assert cfg.model.hidden_dim == demo.model.hidden_dim and cfg.trainer.max_time is None
    assert cfg.data.units == "word"  # the demo and the paper keep words
    assert compose_cfg(*with_corpus_scale([*USER, "scale=paper"])).data.units == "word"
