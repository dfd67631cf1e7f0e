"""Config composition: every preset composes; typos, wrong types and unknown ids fail early."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from rnnsearch.config import AdadeltaConfig, RootConfig
from rnnsearch.config_checks import RANGES, check_config, check_ranges

EXPERIMENTS = sorted(p.stem for p in (Path(__file__).parents[2] / "conf/experiment").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("scale", ["demo", "paper"])
def test_every_experiment_composes_at_every_scale(compose_cfg, experiment: str, scale: str) -> None:
    cfg = compose_cfg(f"experiment={experiment}", f"scale={scale}")
    assert cfg.experiment_name == experiment
    assert cfg.model.attention == experiment.startswith("rnnsearch")
    assert cfg.data.max_len == (30 if experiment.endswith("_30") else 50)
    assert cfg.scale_name == scale
    if (scale, experiment) == ("demo", "rnnsearch_50star"):  # early stopping: no update budget
        with pytest.raises(ValueError, match="optim.lr_decay=cosine needs an update budget"):
            check_config(cfg, trains=True)  # the demo's cosine decay needs optim.lr_decay=none
        cfg.optim.lr_decay = "none"
    check_config(cfg, trains=True)  # every preset is within bounds and keeps every rule



def test_paper_scale_keeps_the_papers_sizes(compose_cfg) -> None:
    cfg = compose_cfg("experiment=rnnsearch_50", "scale=paper", "data=wmt14_en_fr")
    m = cfg.model
    assert (m.emb_dim, m.hidden_dim, m.attn_dim, m.maxout_dim) == (620, 1000, 1000, 500)
    assert cfg.data.vocab_size == 30000 and cfg.data.batch_size == 80
    opt = cfg.optim.optimizer
    assert (opt.rho, opt.eps, cfg.optim.grad_clip_norm) == (0.95, 1e-6, 1.0)


def test_unknown_key_fails_at_compose_time(compose_cfg) -> None:
    with pytest.raises((ConfigCompositionException, ConfigKeyError)) as err:
        compose_cfg("model.hiden_dim=10")
    assert "hiden_dim" in str(err.value) + str(err.value.__cause__)


def test_wrong_type_fails_at_compose_time(compose_cfg) -> None:
    with pytest.raises((ConfigCompositionException, ValidationError)) as err:
        compose_cfg("model.hidden_dim=large")
    assert "hidden_dim" in str(err.value) + str(err.value.__cause__)


def test_unknown_experiment_id_names_it(compose_cfg) -> None:
    with pytest.raises((ConfigCompositionException, MissingConfigException)) as err:
        compose_cfg("experiment=rnnsearch_70")
    assert "rnnsearch_70" in str(err.value)


def test_every_range_names_a_numeric_schema_key() -> None:
    schema = OmegaConf.structured(RootConfig)
    schema.optim.optimizer = OmegaConf.structured(AdadeltaConfig)  # the group's schema, not Any
    for key in RANGES:
        value = OmegaConf.select(schema, key, default="absent", throw_on_missing=False)
        assert value is None or (isinstance(value, int | float)
                                 and not isinstance(value, bool)), key  # None: nullable


def test_a_value_outside_its_range_fails_naming_the_key(compose_cfg) -> None:
    base, adadelta = compose_cfg(), compose_cfg("optim=adadelta")  # the demo runs Adam (no rho)
    for key, (low, high) in RANGES.items():
        for value, ok in ((low, True), (high, True), (None if low is None else low - 1, False),
                          (None if high is None else high + 1, False)):
            if value is None:
                continue
            cfg = (adadelta if key.startswith("optim.optimizer.") else base).copy()
            OmegaConf.update(cfg, key, value)  # the right type: the schema alone accepts it
            if ok:
                check_ranges(cfg)
                continue
            with pytest.raises(ValueError) as err:
                check_ranges(cfg)
            stored = OmegaConf.select(cfg, key)  # a float key holds 0.0 for 0
            assert str(err.value).startswith(f"{key}={stored} is out of range: must be "), key


@pytest.mark.parametrize("section", ["model", "data"])
def test_every_model_and_data_key_has_exactly_one_meaning(section: str) -> None:
    """model: identity, initialisation or execution (checkpoint loading and resume rely on it);
    data: training, prepared or runtime (the resume fingerprint digests the first)."""
    import dataclasses

    from rnnsearch import config

    schema, groups = {
        "model": (config.ModelConfig, (config.MODEL_IDENTITY_KEYS, config.MODEL_INIT_KEYS,
                                       config.MODEL_EXECUTION_KEYS)),
        "data": (config.DataConfig, (config.DATA_TRAINING_KEYS, config.DATA_PREPARED_KEYS,
                                     config.DATA_RUNTIME_KEYS)),
    }[section]
    fields = [f.name for f in dataclasses.fields(schema)]
    for name in fields:
        count = sum(name in g for g in groups)
        assert count == 1, f"{section}.{name} is in {count} of its meaning groups (config.py)"
    assert set().union(*groups) == set(fields)  # no stale names either


@pytest.mark.parametrize(("optim", "typo"), [("adadelta", "rhoo"), ("adam", "rho")])
def test_optimizer_arguments_are_typed_per_optimizer(compose_cfg, optim: str, typo: str) -> None:
    """optim.optimizer is validated by its optimizer's schema: Adam has no rho."""
    assert compose_cfg(f"optim={optim}").optim.optimizer._target_.lower().endswith(optim)
    with pytest.raises((ConfigCompositionException, ConfigKeyError)) as err:
        compose_cfg(f"optim={optim}", f"optim.optimizer.{typo}=0.9")
    assert typo in str(err.value) + str(err.value.__cause__)
