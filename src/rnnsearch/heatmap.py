"""Figure 3's heat map of one sentence's soft alignment, drawn to an image file.

Paper: Figure 3 -- "each pixel shows the weight alpha_ij of the annotation of the j-th source word
for the i-th target word, in grayscale (0: black, 1: white)"; source words on the x-axis,
generated words on the y-axis. Used by training (W&B attention images), translation
(`translate heatmaps=`) and the report. Not responsible for choosing, saving or scoring
alignments (evaluation/alignment.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or the DVC runner

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rnnsearch.io_utils import atomic_path  # noqa: E402

EOS_LABEL = "<end>"  # what Figure 3 writes for the end-of-sentence symbol


@dataclass(frozen=True)
class AlignmentExample:
    """One sentence's alignment: alpha (T, S) between generated and source tokens."""

    index: int  # line number in the test set (0-based)
    src_tokens: list[str]
    hyp_tokens: list[str]
    weights: np.ndarray  # (T, S)


def _labels(tokens: list[str], n: int) -> list[str]:
    """Axis labels for n rows/columns: the tokens, then <end> for an EOS position."""
    return [*tokens, *[EOS_LABEL] * (n - len(tokens))][:n]


def plot_alignment(
    example: AlignmentExample, path: str | os.PathLike[str], title: str | None = None
) -> Path:
    """Draw Figure 3's heat map of one example and save it as an image (PNG by suffix).

    Returns:
        The written path.
    """
    alpha = np.asarray(example.weights)  # (T, S)
    T, S = alpha.shape
    fig, ax = plt.subplots(figsize=(0.35 * S + 1.5, 0.35 * T + 1.5))
    ax.imshow(alpha, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="equal")
    ax.set_xticks(range(S), _labels(example.src_tokens, S), rotation=90, fontsize=8)
    ax.set_yticks(range(T), _labels(example.hyp_tokens, T), fontsize=8)
    ax.xaxis.tick_top()  # like the paper: source sentence along the top
    ax.tick_params(length=0)
    if title:
        ax.set_xlabel(title, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
    return path
