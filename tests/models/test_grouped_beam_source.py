"""`grouped_beam_source`: beam search over one source copy per sentence equals the K-copy path.

float64, random weights, padded batches: the same hypotheses, scores and attention rows, for
both models and the tanh and logistic energies; selections other than the beam expansion fall
back to materialised rows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from rnnsearch.decoding.search import beam_search

LENGTHS = (5, 3, 2)


@pytest.mark.parametrize("readout_state", ["groundhog", "current"])
@pytest.mark.parametrize(("name", "logistic"),  # logistic energies: attention models only
                         [("rnnsearch", False), ("rnnsearch", True), ("rnnencdec", False)])
def test_grouped_beam_search_equals_expanded(
    make_model, make_batch, name, readout_state, logistic
) -> None:
    src_ids, src_mask, _ = make_batch(LENGTHS, S=6)
    flags = dict(readout_state=readout_state, logistic_attention=logistic)
    grouped = make_model(name, grouped_beam_source=True, **flags)
    ref = make_model(name, **flags)
    got, want = (beam_search(m, src_ids, src_mask, 4, 7) for m in (grouped, ref))
    assert got.ids == want.ids and got.ended == want.ended
    assert_close(torch.tensor(got.scores), torch.tensor(want.scores), rtol=0, atol=1e-10)
    for a, b in zip(got.attention, want.attention, strict=True):
        assert (a is None and b is None) or np.allclose(a, b, rtol=0, atol=1e-12)


def test_grouped_source_is_shared_and_other_selections_materialise(make_model, make_batch):
    src_ids, src_mask, tgt_in = make_batch(LENGTHS)
    model = make_model("rnnsearch", grouped_beam_source=True)
    plain = make_model("rnnsearch")
    K, B = 3, len(LENGTHS)
    expand = torch.arange(B).repeat_interleave(K)
    enc = model.encode(src_ids, src_mask).index_select(expand)
    assert enc.beam == K and enc.annotations.size(0) == B  # no copies
    ref = plain.encode(src_ids, src_mask).index_select(expand)
    reorder = torch.tensor([8, 0, 4, 4, 1, 2, 7, 3, 5])
    mixed = enc.index_select(reorder)  # not a beam expansion: rows materialised
    assert mixed.beam == 1
    assert torch.equal(mixed.annotations, ref.index_select(reorder).annotations)
    y = tgt_in[:, 0].repeat_interleave(K)
    for m, e in ((model, enc), (plain, ref)):
        out = m.step(y, m.init_state(e), e)
        out = m.step(y, out.state, e)
        if m is model:
            got = out
    assert_close(got.log_probs, out.log_probs, rtol=0, atol=1e-12)
    assert_close(got.alpha, out.alpha, rtol=0, atol=1e-12)
    with pytest.raises(AssertionError, match="B rows"):
        model.step(y[:-1], model.init_state(enc).index_select(torch.arange(B * K - 1)), enc)
