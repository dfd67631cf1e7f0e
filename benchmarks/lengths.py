"""Sentence lengths of newstest2014 En->Fr (3,003 sentences, Sec. 4.1's test set) for decoding
benchmarks: from the SGML files when they are present, else from a log-normal fit of them.

Lengths are Moses tokens (rnnsearch.data.moses, as `prepare` tokenises) plus the EOS the source
collation appends; the target length is the reference's token count plus the EOS step, the
number of decoder steps a model that stops where the reference stops would take.

Fit (measured on newstest2014-fren-src.en.sgm / -ref.fr.sgm, Moses-tokenised, 3,003 pairs:
mean 23.7 English tokens, median 22, max 79; 1.14 French tokens per English token):
    source tokens  ~ round(LogNormal(mu=3.022, sigma=0.563)), clipped to [1, 80]
    target tokens  = round(source tokens * exp(Normal(0.135, 0.178))), at least 1
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_TEST = 3003  # news-test-2014 (Sec. 4.1)
SGML_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "newstest2014-fren"
SRC_SGM, REF_SGM = "newstest2014-fren-src.en.sgm", "newstest2014-fren-ref.fr.sgm"
LOGNORMAL_MU, LOGNORMAL_SIGMA, MAX_TOKENS = 3.022, 0.563, 80
LOG_RATIO_MEAN, LOG_RATIO_STD = 0.135, 0.178


def newstest_lengths(
    n: int = N_TEST, seed: int = 0, sgml_dir: Path = SGML_DIR
) -> tuple[np.ndarray, np.ndarray, str]:
    """(source lengths, target lengths, where they came from) for `n` sentences.

    With the SGML files present, n < 3003 takes a seeded sample of the real pairs (only those
    are tokenised) and n > 3003 repeats them; else both lengths are drawn from the fit above.
    Both arrays include the EOS position: (n,) int64 each.
    """
    rng = np.random.default_rng(seed)
    if (sgml_dir / SRC_SGM).is_file() and (sgml_dir / REF_SGM).is_file():
        from rnnsearch.data.moses import clean_line, tokenize_line  # noqa: PLC0415 (needs sacremoses)
        from rnnsearch.data.sgml import read_sgml_pair  # noqa: PLC0415

        src, ref = read_sgml_pair(sgml_dir / SRC_SGM, sgml_dir / REF_SGM)
        idx = rng.permutation(len(src))[:n] if n < len(src) else np.arange(n) % len(src)
        src_len = [len(tokenize_line(clean_line(src[i]), "en")) for i in idx]
        tgt_len = [len(tokenize_line(clean_line(ref[i]), "fr")) for i in idx]
        where = f"newstest2014 files ({len(src)} pairs, Moses tokens)"
    else:
        src_len = np.clip(np.rint(rng.lognormal(LOGNORMAL_MU, LOGNORMAL_SIGMA, n)), 1, MAX_TOKENS)
        ratio = np.exp(rng.normal(LOG_RATIO_MEAN, LOG_RATIO_STD, n))
        tgt_len = np.maximum(1, np.rint(np.asarray(src_len) * ratio))
        where = f"log-normal fit (mu {LOGNORMAL_MU}, sigma {LOGNORMAL_SIGMA}; see lengths.py)"
    return np.asarray(src_len, np.int64) + 1, np.asarray(tgt_len, np.int64) + 1, where
