"""The rules a schema cannot express, checked once right after composing (`check_config`)."""

from __future__ import annotations

import pytest

from rnnsearch.config_checks import check_config


@pytest.mark.parametrize(("overrides", "message"), [
    (("resume=yes",), "resume must be true, false or auto, got 'yes'"),
    (("data.vocab_size=big",), "data.vocab_size must be an integer or auto, got 'big'"),
    (("model.bidirectional=false",), "model.attention=true needs model.bidirectional=true"),
])
def test_a_broken_rule_is_one_line_naming_the_keys(compose_cfg, overrides: tuple[str, ...],
                                                    message: str) -> None:
    with pytest.raises(ValueError) as err:
        check_config(compose_cfg(*overrides))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize("resume", ["true", "false", "auto"])
def test_every_resume_mode_and_an_auto_vocabulary_pass(compose_cfg, resume: str) -> None:
    check_config(compose_cfg(f"resume={resume}", "data.vocab_size=auto"), trains=True)


def test_cosine_decay_needs_an_update_budget_to_train(compose_cfg) -> None:
    """The demo decays the rate over its per-experiment budget; without one, training stops
    here, while the stages that do not train are not refused for a training setting."""
    no_budget = compose_cfg("experiment=rnnsearch_30", "optim.lr_decay=cosine", "trainer=smoke",
                            "trainer.max_steps=-1")
    with pytest.raises(ValueError, match=r"optim.lr_decay=cosine needs an update budget: "
                                         r"trainer.max_steps=-1 and no trainer.max_steps_by"):
        check_config(no_budget, trains=True)
    check_config(no_budget)  # translate, evaluate: no schedule to run
    check_config(compose_cfg("experiment=rnnsearch_30", "optim.lr_decay=cosine", "trainer=smoke",
                             "trainer.max_steps=-1",
                             "+trainer.max_steps_by_experiment.rnnsearch_30=10"), trains=True)


@pytest.mark.parametrize(("overrides", "message"), [
    (("trainer.max_steps=-1", "trainer.budget_window=5"),
     "trainer.budget_window=5 sizes the update budget to trainer.max_time, which is not set"),
    (("trainer.early_stopping_patience=2", "trainer.early_stopping_metric=dev_bleu",
      "trainer.bleu_every_n_evals=2"),
     "trainer.early_stopping_metric=dev_bleu counts validations, but "
     "trainer.bleu_every_n_evals=2"),
    (("trainer.budget_margin=1.5",), "trainer.budget_margin=1.5 is out of range: must be >= 0"),
    (("trainer.budget_window=-1",), "trainer.budget_window=-1 is out of range: must be >= 0"),
    (("trainer.max_steps=-1", "trainer.max_time=00:00:01:00", "trainer.budget_window=5",
      "trainer.budget_warmup=5"),
     "trainer.budget_warmup=5 leaves no update of trainer.budget_window=5 to time"),
])
def test_a_time_budget_needs_its_clock_and_dev_bleu(compose_cfg, overrides: tuple[str, ...],
                                                    message: str) -> None:
    with pytest.raises(ValueError) as err:
        check_config(compose_cfg("experiment=rnnsearch_30", "trainer=smoke", *overrides),
                     trains=True)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_budget_sized_to_max_time_serves_the_cosine_decay(compose_cfg) -> None:
    check_config(compose_cfg("experiment=rnnsearch_30", "optim.lr_decay=cosine", "trainer=smoke",
                             "trainer.max_steps=-1", "trainer.budget_window=5",
                             "trainer.max_time=00:00:01:00"), trains=True)
