"""PixNet's tile loss (stx/train/tile_loss.h) against a brute-force reference: every spot's disk
built as a pixel mask over a plane larger than the tile, the sums, covered fractions, MSE and
per-spot PCC written out directly in NumPy."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from stx import _C

tile_spot_loss = _C.train.tile_spot_loss


def reference(dense, centers, radii, targets, pcc_weight=0.5, border="drop", shape="disk", log1p=False):
    """float64 NumPy re-implementation from the definition (docs/pixnet.md)."""
    dense, centers, radii, targets = (np.asarray(a, dtype=np.float64) for a in (dense, centers, radii, targets))
    _, g, h, w = dense.shape
    multi = radii.ndim == 2
    radii = radii.reshape(len(centers), -1)
    targets = targets.reshape(len(centers), radii.shape[1], g)
    pad = int(np.ceil(radii.max())) + 2
    ii, jj = np.mgrid[-pad:h + pad, -pad:w + pad]
    inside_map = (ii >= 0) & (ii < h) & (jj >= 0) & (jj < w)
    rows_p, rows_t, weights, preds = [], [], [], np.zeros_like(targets)
    weight_out = np.zeros(radii.shape)
    for n, c in enumerate(centers):
        b, cy, cx = (int(c[0]), c[1], c[2]) if len(c) == 3 else (0, c[0], c[1])
        for k, r in enumerate(radii[n]):
            if shape == "disk":
                disk = (ii - cy) ** 2 + (jj - cx) ** 2 <= r * r
            else:  # a square bin of half side r
                disk = (np.abs(ii - cy) <= r) & (np.abs(jj - cx) <= r)
            covered = disk & inside_map
            frac = covered.sum() / disk.sum()
            total = dense[b][:, ii[covered], jj[covered]].sum(1)
            pred = total if border == "drop" else total / frac
            wt = float(frac == 1.0) if border == "drop" else frac
            preds[n, k], weight_out[n, k] = pred, wt
            if wt > 0:
                rows_p.append(pred), rows_t.append(targets[n, k]), weights.append(wt)
    p, t, wts = np.array(rows_p), np.array(rows_t), np.array(weights)
    if log1p:
        p = np.log1p(np.maximum(p, 0))
    mse = ((p - t) ** 2).mean(1) @ wts / wts.sum()
    pc, tc = p - p.mean(1, keepdims=True), t - t.mean(1, keepdims=True)
    r = (pc * tc).sum(1) / (np.sqrt((pc ** 2).sum(1)) * np.sqrt((tc ** 2).sum(1)) + 1e-8)
    loss = mse + pcc_weight * (1 - r.mean())
    shape = (len(centers), radii.shape[1]) if multi else (len(centers),)
    return loss, weight_out.reshape(shape), preds if multi else preds[:, 0]


def small_tile(seed=0, multi=False):
    g = torch.Generator().manual_seed(seed)
    dense = torch.rand(2, 5, 24, 20, generator=g, dtype=torch.float64)
    # inside, cut by each border, sub-pixel centres, the second image of the batch
    centers = torch.tensor([[0, 10.0, 9.5], [0, 1.2, 8.0], [1, 12.3, 15.7], [1, 22.5, 3.0], [0, 6.0, -1.5],
                            [1, 11.0, 10.0]], dtype=torch.float64)
    radii = torch.tensor([3.0, 2.5, 2.2, 3.7, 2.9, 4.0], dtype=torch.float64)
    if multi:
        radii = torch.stack([radii, radii * 0.5 + 0.2], 1)
    targets = torch.rand(*radii.shape, 5, generator=g, dtype=torch.float64) * 30
    return dense, centers, radii, targets


@pytest.mark.parametrize("border", ["drop", "weight"])
@pytest.mark.parametrize("multi", [False, True], ids=["one-scale", "two-scales"])
def test_the_loss_equals_a_brute_force_reference(border, multi):
    dense, centers, radii, targets = small_tile(multi=multi)
    loss, weight, predicted = tile_spot_loss(dense, centers, radii, targets, 0.5, border)
    ref_loss, ref_weight, ref_pred = reference(dense, centers, radii, targets, 0.5, border)
    np.testing.assert_allclose(weight.numpy(), ref_weight, rtol=1e-12)
    np.testing.assert_allclose(predicted.numpy(), ref_pred, rtol=1e-10)
    assert loss.item() == pytest.approx(ref_loss, rel=1e-10)
    if border == "drop":  # the border rule matters here: spots 1, 3 and 4 are cut
        assert weight.reshape(6, -1)[:, 0].tolist() == [1, 0, 1, 0, 0, 1]
    else:
        assert 0 < weight.min() and weight.reshape(6, -1)[1, 0] < 1


@pytest.mark.parametrize("border", ["drop", "weight"])
@pytest.mark.parametrize("shape", ["disk", "square"])
def test_square_bins_and_log1p_after_the_sum_equal_the_reference(border, shape):
    dense, centers, radii, targets = small_tile(seed=3)
    targets = torch.log1p(targets)  # log1p counts, compared with log1p of the region sums
    loss, weight, predicted = tile_spot_loss(dense, centers, radii, targets, 0.5, border, shape, True)
    ref_loss, ref_weight, ref_pred = reference(dense, centers, radii, targets, 0.5, border, shape, True)
    np.testing.assert_allclose(weight.numpy(), ref_weight, rtol=1e-12)
    np.testing.assert_allclose(predicted.numpy(), ref_pred, rtol=1e-10)  # sums stay linear
    assert loss.item() == pytest.approx(ref_loss, rel=1e-10)
    if shape == "square":  # a square holds more pixels than the disk of the same radius
        disk_pred = tile_spot_loss(dense, centers, radii, targets, 0.5, border, "disk", True)[2]
        assert (predicted.sum(1) > disk_pred.sum(1)).all()


def test_an_unknown_shape_is_an_error():
    dense, centers, radii, targets = small_tile()
    with pytest.raises(ValueError, match="shape"):
        tile_spot_loss(dense, centers, radii, targets, 0.5, "drop", "hexagon")


def test_gradients_reach_the_map_only_inside_used_spots():
    dense, centers, radii, targets = small_tile()
    dense.requires_grad_(True)
    torch.autograd.gradcheck(lambda d: tile_spot_loss(d, centers, radii, targets, 0.5, "weight")[0], (dense,))
    loss, weight, _ = tile_spot_loss(dense, centers, radii, targets, 0.5, "drop")
    (grad,) = torch.autograd.grad(loss, dense)
    # a dropped spot's pixels outside every kept spot get no gradient
    # pixel (0, 8) of image 0 lies only in spot 1 (centre (1.2, 8), cut by the top edge, dropped)
    assert grad[0, :, 0, 8].abs().sum() == 0 and (grad[0].abs().sum(0) > 0).sum() > 0


def test_bad_tiles_are_clear_errors():
    dense, centers, radii, targets = small_tile()
    with pytest.raises(ValueError, match="no spots"):
        tile_spot_loss(dense, centers[:0], radii[:0], targets[:0])
    with pytest.raises(ValueError, match="spot 2 .* wholly outside"):
        far = centers.clone()
        far[2, 1] = 500.0
        tile_spot_loss(dense, far, radii, targets)
    for y in (1e30, -1e300):  # far outside: refused before any pixel is counted
        far = centers.clone()
        far[0, 1] = y
        with pytest.raises(ValueError, match="spot 0 .* wholly outside"):
            tile_spot_loss(dense, far, radii, targets)
    huge = radii.clone()
    huge[3] = 1e12
    with pytest.raises(ValueError, match="spot 3 has radius 1e\\+12; radii must be in \\[0, 4 x max"):
        tile_spot_loss(dense, centers, huge, targets)
    with pytest.raises(ValueError, match="empty scale list"):
        tile_spot_loss(dense, centers, radii[:, None][:, :0], targets[:, None][:, :0])
    with pytest.raises(ValueError, match="gene panel mismatch"):
        tile_spot_loss(dense, centers, radii, targets[:, :4])
    with pytest.raises(ValueError, match="no spot lies wholly inside"):
        tile_spot_loss(dense, centers[[1, 3, 4]], radii[[1, 3, 4]], targets[[1, 3, 4]], 0.5, "drop")
    with pytest.raises(ValueError, match="border"):
        tile_spot_loss(dense, centers, radii, targets, 0.5, "crop")
    bad = targets.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="targets must be floating and finite"):
        tile_spot_loss(dense, centers, radii, bad)
