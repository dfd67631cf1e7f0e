"""newstest2014 lengths for the decoding benchmark: the real files, or the documented fit."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import lengths  # noqa: E402


def test_fallback_draws_the_log_normal_fit(tmp_path: Path) -> None:
    src, tgt, where = lengths.newstest_lengths(3003, seed=0, sgml_dir=tmp_path)  # no files there
    assert "log-normal" in where and src.shape == tgt.shape == (3003,)
    assert src.min() >= 2 and src.max() <= lengths.MAX_TOKENS + 1  # + EOS
    assert 23.0 < src.mean() < 26.5  # newstest2014: 23.7 tokens + EOS
    assert 1.05 < (tgt - 1).sum() / (src - 1).sum() < 1.25  # 1.14 French tokens per English one
    again, _, _ = lengths.newstest_lengths(3003, seed=0, sgml_dir=tmp_path)
    np.testing.assert_array_equal(src, again)  # seeded


def test_documented_fit_matches_the_real_test_set(real_data_dir: Path) -> None:
    pytest.importorskip("sacremoses")
    sgml_dir = real_data_dir / "newstest2014-fren"
    src, tgt, where = lengths.newstest_lengths(3003, seed=0, sgml_dir=sgml_dir)
    assert where.startswith("newstest2014 files (3003 pairs")
    src_tok, tgt_tok = src - 1, tgt - 1
    assert src_tok.max() < lengths.MAX_TOKENS and round(float(src_tok.mean()), 1) == 23.7
    assert abs(np.log(src_tok).mean() - lengths.LOGNORMAL_MU) < 5e-3
    assert abs(np.log(src_tok).std() - lengths.LOGNORMAL_SIGMA) < 5e-3
    log_ratio = np.log(tgt_tok / src_tok)
    assert abs(log_ratio.mean() - lengths.LOG_RATIO_MEAN) < 5e-3
    assert abs(log_ratio.std() - lengths.LOG_RATIO_STD) < 5e-3
