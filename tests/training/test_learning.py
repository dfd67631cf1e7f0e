"""The paper's optimizer really learns: a tiny RNNsearch learns to copy word sequences.

Adadelta (rho 0.95, eps 1e-6), GroundHog's summed loss and the gradient norm clipped to 1, through
`TranslationModule.training_step` / `configure_optimizers` / `greedy_translate`: if the loss,
the masking or the optimizer wiring breaks, dev BLEU stays near 0 (measured: 42 after 3000
updates; 0 after 600, where the model still emits one word everywhere).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from rnnsearch.config import AdadeltaConfig, ModelConfig, OptimConfig
from rnnsearch.data.batching import collate_pairs
from rnnsearch.evaluation.bleu import TOKENIZED, corpus_bleu
from rnnsearch.training.lit_module import TranslationModule

N_WORDS, BATCH, UPDATES = 10, 16, 3000


def _copy_pairs(rng: np.random.Generator, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Source words 4..13 in random sequences of 1-6; the target is the same sequence."""
    seqs = [rng.integers(4, 4 + N_WORDS, size=rng.integers(1, 7)).astype(np.int32)
            for _ in range(n)]
    return [(s, s.copy()) for s in seqs]


def test_adadelta_with_the_summed_loss_learns_to_copy() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    train, dev = _copy_pairs(rng, 4000), _copy_pairs(rng, 100)
    model = asdict(ModelConfig(emb_dim=16, hidden_dim=32, attn_dim=32, maxout_dim=16))
    # the paper's: Adadelta, GroundHog's summed loss, clip 1
    optim = asdict(OptimConfig(optimizer=AdadeltaConfig()))
    assert (optim["optimizer"]["_target_"], optim["loss_scale"], optim["lr_decay"]) == (
        "torch.optim.Adadelta", "sum", "none")
    module = TranslationModule(model, optim, N_WORDS + 4, N_WORDS + 4)
    optimizer = module.configure_optimizers()
    for step in range(UPDATES):
        batch = collate_pairs([train[(step * BATCH + k) % len(train)] for k in range(BATCH)])
        module.training_step(batch, step)["loss"].backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), optim["grad_clip_norm"])
        optimizer.step()
        optimizer.zero_grad()
    module.model.eval()
    hyps, _ = module.greedy_translate([s for s, _ in dev])
    bleu = corpus_bleu([" ".join(map(str, h)) for h in hyps],
                       [" ".join(map(str, t)) for _, t in dev], tokenize=TOKENIZED).score
    assert bleu >= 25.0, f"dev BLEU {bleu:.1f} after {UPDATES} Adadelta updates"
