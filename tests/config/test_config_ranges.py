"""Every numeric key with a range is refused out of range, in one line naming it.

The keys and bounds are written out here, not read from `config_checks.RANGES`: a key dropped
from the table (or a bound changed there) then fails a test instead of silently passing every
check.
A value is set in the composed config (the schema checks its type, as a command-line override
would) and the config goes through `cli.user_errors_exit`, which every entry point runs on its
composed config.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from omegaconf import DictConfig, OmegaConf
from tests.conftest import compose_config

from rnnsearch.cli import user_errors_exit
from rnnsearch.config_checks import RANGES

AT_LEAST_1 = (1, None)
EXPECTED: dict[str, tuple[float | None, float | None]] = {
    "data.vocab_size": (5, None), "data.max_len": AT_LEAST_1, "data.prepare_max_len": AT_LEAST_1,
    "data.prepare_workers": AT_LEAST_1, "data.batch_size": AT_LEAST_1,
    "data.sort_batches": AT_LEAST_1, "data.dev_max_len": AT_LEAST_1, "data.vocab_max": (5, None),
    "data.vocab_coverage": (0, 1), "data.num_workers": (0, None),
    "data.dev_bleu_sentences": (0, None), "data.subword_vocab_size": (5, None),
    "data.pieces_per_word": AT_LEAST_1,
    "data.embedded.n_train": AT_LEAST_1, "data.embedded.n_dev": AT_LEAST_1,
    "data.embedded.n_test": AT_LEAST_1, "data.embedded.lexicon_size": AT_LEAST_1,
    "data.embedded.max_sentence_len": AT_LEAST_1, "data.embedded.length_bucket_width": AT_LEAST_1,
    "data.embedded.n_length_buckets": AT_LEAST_1, "data.embedded.mean_sentence_len": AT_LEAST_1,
    "data.embedded.zipf_exponent": (0, None), "data.embedded.zipf_shift": (0, None),
    "data.wmt14.selection_budget_tokens_fr": AT_LEAST_1,
    "data.wmt14.general_lm_max_pairs": AT_LEAST_1,
    "model.emb_dim": AT_LEAST_1, "model.hidden_dim": AT_LEAST_1, "model.attn_dim": AT_LEAST_1,
    "model.maxout_dim": AT_LEAST_1, "model.maxout_pool": AT_LEAST_1,
    "model.output_rank": AT_LEAST_1, "model.init_std": (0, None), "model.attn_init_std": (0, None),
    "model.output_loss_chunk": AT_LEAST_1,
    "optim.optimizer.lr": (0, None), "optim.optimizer.rho": (0, 1),
    "optim.optimizer.eps": (0, None), "optim.optimizer.weight_decay": (0, None),
    "optim.grad_clip_norm": (0, None), "optim.lr_min_ratio": (0, 1),
    "trainer.devices": AT_LEAST_1, "trainer.max_steps": (-1, None),
    "trainer.max_epochs": (-1, None), "trainer.check_val_every_n_epoch": AT_LEAST_1,
    "trainer.log_every_n_steps": AT_LEAST_1, "trainer.num_sanity_val_steps": (-1, None),
    "trainer.early_stopping_patience": AT_LEAST_1, "trainer.keep_last_checkpoints": (0, None),
    "trainer.checkpoint_every_n_steps": AT_LEAST_1, "trainer.bleu_every_n_evals": (0, None),
    "trainer.num_threads": AT_LEAST_1, "trainer.budget_window": (0, None),
    "trainer.budget_margin": (0, 1), "trainer.budget_warmup": (0, None),
    "decode.beam_size": AT_LEAST_1, "decode.max_len_ratio": (0, None),
    "decode.max_len_offset": (0, None), "decode.batch_size": AT_LEAST_1,
    "decode.n_alignment_examples": (0, None), "decode.n_best": AT_LEAST_1,
    "decode.fallback_max_beam": AT_LEAST_1, "decode.max_input_tokens": AT_LEAST_1,
    "eval.min_bucket_sentences": AT_LEAST_1, "eval.bootstrap_samples": (0, None),
    "logger.n_sample_translations": (0, None),
    "seed": (0, None),
}


@pytest.fixture(scope="module")
def composed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], DictConfig]:
    """The default composed config, with Adadelta for `optim.optimizer.*` (Adam has no rho)."""
    root = tmp_path_factory.mktemp("ranges")
    base, adadelta = compose_config(root), compose_config(root, "optim=adadelta")
    return lambda key: (adadelta if key.startswith("optim.optimizer.") else base).copy()


def _refusal(cfg: DictConfig, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The stderr lines of an entry point given `cfg` ([] when it is accepted)."""
    try:
        with user_errors_exit("rnnsearch.train", cfg):
            pass
    except SystemExit as stop:
        assert stop.code == 1
    return capsys.readouterr().err.splitlines()


def _bound_text(low: float | None, high: float | None) -> str:
    return " and ".join(b for b in (low is not None and f">= {low}",
                                    high is not None and f"<= {high}") if b)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_every_range_key_is_refused_out_of_range(key: str, composed, capsys) -> None:
    low, high = EXPECTED[key]
    for value, inside in ((low, True), (high, True), (None if low is None else low - 1, False),
                          (None if high is None else high + 1, False)):
        if value is None:
            continue
        cfg = composed(key)
        OmegaConf.update(cfg, key, value)  # the schema's type check, as an override gets
        lines = _refusal(cfg, capsys)
        if inside:
            assert lines == [], (key, value)
            continue
        stored = OmegaConf.select(cfg, key)  # a float key holds 0.0 for 0
        assert lines == [f"rnnsearch.train: error: {key}={stored} is out of range: must be "
                         f"{_bound_text(low, high)}"], (key, value)


@pytest.mark.parametrize("overrides", [("data.batch_size=0",), ("optim=adadelta",
                                       "optim.optimizer.rho=1.5"), ("seed=-1",)],
                         ids=["batch_size", "rho", "seed"])
def test_a_command_line_override_out_of_range_is_refused(overrides, tmp_path, capsys) -> None:
    key = overrides[-1].split("=")[0]
    lines = _refusal(compose_config(tmp_path, *overrides), capsys)
    assert len(lines) == 1 and lines[0].startswith(f"rnnsearch.train: error: {key}="), lines


def test_the_range_table_has_no_key_without_a_test_here() -> None:
    assert sorted(RANGES) == sorted(EXPECTED)  # a new range gets its expected bounds above


@pytest.mark.parametrize("value,refusal", [
    ("auto", None), (True, "data.vocab_size must be an integer or auto, got True")],
    ids=["auto", "bool"])
def test_a_value_that_is_no_number_is_not_range_checked(value, refusal, composed,
                                                         capsys) -> None:
    cfg = composed("data.vocab_size")  # Any-typed: an int, or "auto"; its own rule names the rest
    OmegaConf.update(cfg, "data.vocab_size", value)
    assert _refusal(cfg, capsys) == ([f"rnnsearch.train: error: {refusal}"] if refusal else [])


def test_a_missing_or_absent_value_is_not_range_checked(composed, capsys) -> None:
    cfg = composed("data.batch_size")
    OmegaConf.update(cfg, "data.batch_size", "???")  # missing: reported where it is read
    assert _refusal(cfg, capsys) == []
    assert _refusal(OmegaConf.create({"data": {"batch_size": 0}, "seed": -1}), capsys) == [
        "rnnsearch.train: error: data.batch_size=0 is out of range: must be >= 1"]  # the first
    assert _refusal(OmegaConf.create({"other": 1}), capsys) == []  # another primary config
