"""Soft-alignment matrices: choosing examples, saving/loading them, Figure 3's image files.

Paper: Figure 3 -- "each pixel shows the weight alpha_ij of the annotation of the j-th source word
for the i-th target word, in grayscale (0: black, 1: white)"; source words on the x-axis,
generated words on the y-axis. Also scores attention against gold word alignments: the argmax
links of alpha over the *reference* translation (teacher-forced, `reference_attention`) against
Pharaoh-format gold links, as the alignment error rate (Och & Ney 2003; every gold link is "sure").
Not responsible for decoding (rnnsearch.decoding) or for drawing one heat map (heatmap.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rnnsearch.data.batching import collate_pairs
from rnnsearch.decoding.batches import map_batches
from rnnsearch.heatmap import AlignmentExample, plot_alignment
from rnnsearch.io_utils import atomic_path

Links = set[tuple[int, int]]  # (source position i, target position j), 0-based


def choose_examples(
    src_lengths: Sequence[int], n: int, min_len: int = 10, max_len: int = 25,
    exclude: Sequence[bool] | None = None, prefer: Sequence[bool] | None = None,
) -> list[int]:
    """Deterministically pick `n` test sentences of moderate length for Figure 3.

    Candidates have min_len <= |x| <= max_len words (and are not `exclude`d, e.g. contain no
    [UNK]); when at least `n` of them are `prefer`red (e.g. their alignment has a reordering),
    only those are candidates. The picks are spread evenly over the candidates in corpus order.
    When there are too few, the sentences whose length is closest to the middle of the range
    fill the gap.
    """
    order = range(len(src_lengths))
    ok = [i for i in order
          if min_len <= src_lengths[i] <= max_len and not (exclude is not None and exclude[i])]
    preferred = [i for i in ok if prefer is not None and prefer[i]]
    ok = preferred if len(preferred) >= n else ok
    if len(ok) >= n:
        return [ok[int(k * len(ok) / n)] for k in range(n)]
    mid = (min_len + max_len) / 2
    chosen = set(ok)
    rest = sorted((i for i in order if i not in chosen), key=lambda i: abs(src_lengths[i] - mid))
    return sorted([*ok, *rest[: n - len(ok)]])


def save_examples(path: str | os.PathLike[str], examples: Sequence[AlignmentExample]) -> None:
    """Write the examples to one `.npz` (unicode arrays, so loading needs no pickle)."""
    arrays: dict[str, np.ndarray] = {"index": np.array([e.index for e in examples], dtype=np.int64)}
    for k, e in enumerate(examples):
        arrays[f"src_{k}"] = np.array(e.src_tokens, dtype=str)
        arrays[f"hyp_{k}"] = np.array(e.hyp_tokens, dtype=str)
        arrays[f"alpha_{k}"] = np.asarray(e.weights, dtype=np.float32)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_examples(path: str | os.PathLike[str]) -> list[AlignmentExample]:
    """Read examples written by `save_examples`."""
    with np.load(path, allow_pickle=False) as npz:
        return [
            AlignmentExample(int(idx), npz[f"src_{k}"].tolist(), npz[f"hyp_{k}"].tolist(),
                             npz[f"alpha_{k}"])
            for k, idx in enumerate(npz["index"].tolist())
        ]


def sharpness(weights: np.ndarray) -> float:
    """Mean over target words of max_j alpha_ij * S: 1.0 for uniform attention, S for one-hot."""
    alpha = np.asarray(weights)  # (T, S)
    return float(alpha.max(axis=1).mean() * alpha.shape[1]) if alpha.size else float("nan")


def plot_examples(
    sources: Sequence[tuple[str, Path]], figures: Path
) -> list[tuple[Path, float]]:
    """Figure 3: figures/alignment_<k>.png per example of the first (label, npz) that has any.

    Returns:
        (written path, `sharpness` of the example) per figure.
    """
    for name, path in sources:
        examples = load_examples(path) if path.is_file() else []
        if examples:
            return [(plot_alignment(e, figures / f"alignment_{k + 1}.png",
                                    f"{name}, test sentence {e.index + 1}"), sharpness(e.weights))
                    for k, e in enumerate(examples)]
    return []


def parse_pharaoh(line: str) -> Links:
    """"0-0 1-2 ..." -> {(0, 0), (1, 2), ...} (source-target, 0-based)."""
    try:
        return {(int(a), int(b)) for a, b in (pair.split("-") for pair in line.split())}
    except ValueError:
        raise ValueError(f"not a Pharaoh alignment line (i-j pairs): {line[:60]!r}") from None


def format_pharaoh(links: Links) -> str:
    """The inverse of `parse_pharaoh`, links sorted by target then source position."""
    return " ".join(f"{i}-{j}" for i, j in sorted(links, key=lambda ij: (ij[1], ij[0])))


def argmax_links(weights: np.ndarray, n_src: int, n_tgt: int) -> Links:
    """One link per target word: the source word with the largest alpha_ij.

    The EOS row and column (beyond n_tgt / n_src words) are left out.
    Shapes: weights (T, S) with T >= n_tgt, S >= n_src.
    """
    alpha = np.asarray(weights)[:n_tgt, :n_src]  # (n_tgt, n_src)
    if alpha.size == 0:
        return set()
    return {(int(i), j) for j, i in enumerate(alpha.argmax(axis=1))}


def alignment_error_rate(predicted: Sequence[Links], gold: Sequence[Links]) -> float:
    """Corpus AER with every gold link sure (S = P): 1 - 2|A n G| / (|A| + |G|).

    Raises:
        ValueError: if the two lists differ in length.
    """
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted alignments for {len(gold)} gold ones")
    hits = sum(len(a & g) for a, g in zip(predicted, gold, strict=True))
    total = sum(len(a) + len(g) for a, g in zip(predicted, gold, strict=True))
    return 1.0 - 2.0 * hits / total if total else float("nan")


def has_crossing(links: Links) -> bool:
    """True when two links cross (i < i' but j > j'): a reordering such as noun-adjective."""
    return any(i1 < i2 and j1 > j2 for i1, j1 in links for i2, j2 in links)


@torch.no_grad()
def reference_attention(
    model: torch.nn.Module, srcs: Sequence[np.ndarray], tgts: Sequence[np.ndarray],
    batch_size: int, device: torch.device,
) -> list[np.ndarray]:
    """alpha (|y|+1, |x|+1) of every pair, teacher-forcing the reference through `model.step`.

    Rows are target words then EOS, columns source words then EOS (ids include no BOS/EOS).
    """

    def teacher_force(idx: list[int]) -> list[np.ndarray]:
        batch = collate_pairs([(srcs[i], tgts[i]) for i in idx])  # tgt_in (B, T) = BOS y_1..
        enc = model.encode(batch.src_ids.to(device), batch.src_mask.to(device))
        state = model.init_state(enc)
        rows = []
        for y_prev in batch.tgt_in.to(device).unbind(1):  # teacher forcing: the reference
            step = model.step(y_prev, state, enc)
            rows.append(step.alpha)  # (B, S)
            state = step.state
        alpha = torch.stack(rows, dim=1).float().cpu().numpy()  # (B, T, S)
        return [alpha[k, : len(tgts[i]) + 1, : len(srcs[i]) + 1] for k, i in enumerate(idx)]

    return map_batches([len(s) for s in srcs], batch_size, "input", teacher_force)
