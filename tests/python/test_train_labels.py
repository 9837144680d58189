"""Spot labels of the majority filter (stx._C.modules.spot_labels): k-means of the expression PCA."""
from __future__ import annotations

import pytest
import torch

from stx._C import modules as _modules


def test_separated_groups_get_one_label_each():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 30, generator=g) * 10
    truth = torch.arange(4).repeat_interleave(25)
    x = centres[truth] + torch.randn(100, 30, generator=g) * 0.1
    labels = _modules.spot_labels(x, num_labels=4, components=5, seed=1)
    assert labels.dtype == torch.int64 and labels.shape == (100,)
    # the same partition as the truth, up to renaming
    pairs = set(zip(truth.tolist(), labels.tolist()))
    assert len(pairs) == 4 and len({b for _, b in pairs}) == 4
    assert torch.equal(labels, _modules.spot_labels(x, num_labels=4, components=5, seed=1))


def test_bad_targets_are_named():
    with pytest.raises(RuntimeError, match="NaN or Inf"):
        _modules.spot_labels(torch.tensor([[float("nan"), 1.0], [0.0, 1.0]]))
    with pytest.raises(RuntimeError, match=r"\[N > 0, G\]"):
        _modules.spot_labels(torch.zeros(0, 3))
