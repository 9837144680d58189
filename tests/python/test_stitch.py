"""Stitched whole-image inference of a dense model (stx/train/stitch.h) against one whole-image
forward: the spot disk sums and the downsampled map agree when the margin covers the receptive field,
and differ when it does not."""
from __future__ import annotations

import pytest
import torch

import stx
from stx import _C

stitched_predict = _C.train.stitched_predict


def small_net(seed=0):
    # two 3x3 convs: receptive-field radius 2, stride 1
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 5, 3, padding=1))
    return net.double().eval()


def case(seed=0, multi=False):
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(3, 70, 53, generator=g, dtype=torch.float64)
    centers = torch.stack([torch.rand(40, generator=g, dtype=torch.float64) * 80 - 5,
                           torch.rand(40, generator=g, dtype=torch.float64) * 63 - 5], 1)
    radii = torch.rand(40, generator=g, dtype=torch.float64) * 8 + 1
    if multi:
        radii = torch.stack([radii, radii * 0.4], 1)
    return image, centers, radii


@pytest.mark.parametrize("multi", [False, True], ids=["one-scale", "two-scales"])
def test_stitched_equals_the_whole_image_forward(multi):
    net = small_net()
    image, centers, radii = case(multi=multi)
    with torch.no_grad():
        full = net(image[None])  # [1, 5, 70, 53]
    want, want_cov = stx.ops.spot_pool(full.float(), centers, radii, return_coverage=True)
    want_map = torch.nn.functional.avg_pool2d(full.float(), 4, 4, ceil_mode=True, count_include_pad=False)[0]
    got = stitched_predict(lambda x: net(x), image, centers, radii, tile=16, margin=2, downsample=4)
    assert got["tiles"] == 5 * 4  # ceil(70 / 16) x ceil(53 / 16)
    torch.testing.assert_close(got["coverage"], want_cov.float(), rtol=0, atol=0)
    torch.testing.assert_close(got["spots"], want, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(got["map"], want_map, rtol=1e-5, atol=1e-6)
    # without the context margin the tile borders show: the stitched result differs
    short = stitched_predict(lambda x: net(x), image, centers, radii, tile=16, margin=1, downsample=4)
    assert not torch.allclose(short["map"], want_map, rtol=1e-5, atol=1e-6)


def test_square_bins_stitch_to_a_brute_force_square_sum():
    net = small_net(1)
    image, centers, radii = case(seed=2)
    with torch.no_grad():
        full = net(image[None])[0].float()  # [5, 70, 53]
    ii, jj = torch.meshgrid(torch.arange(70.0, dtype=torch.float64), torch.arange(53.0, dtype=torch.float64),
                            indexing="ij")
    want = torch.stack([full[:, ((ii - cy).abs() <= r) & ((jj - cx).abs() <= r)].sum(1)
                        for (cy, cx), r in zip(centers.tolist(), radii.tolist())])
    got = stitched_predict(lambda x: net(x), image, centers, radii, tile=16, margin=2, shape="square")
    torch.testing.assert_close(got["spots"], want, rtol=1e-5, atol=1e-4)
    disk = stitched_predict(lambda x: net(x), image, centers, radii, tile=16, margin=2)
    assert (got["coverage"] >= disk["coverage"]).all() and (got["coverage"] > disk["coverage"]).any()
    with pytest.raises(ValueError, match="shape"):
        stitched_predict(lambda x: net(x), image, centers, radii, shape="ring")


def test_memory_is_bounded_by_one_tile_and_spots_may_be_absent():
    net = small_net()
    image, _, _ = case()
    sizes = []

    def forward(x):
        sizes.append(tuple(x.shape))
        return net(x)

    got = stitched_predict(forward, image, torch.zeros(0, 2), torch.zeros(0), tile=32, margin=3)
    assert max(h * w for _, _, h, w in sizes) <= (32 + 6) ** 2
    assert got["spots"].shape == (0, 5) and got["map"] is None


def test_bad_arguments_are_clear_errors():
    net = small_net()
    image, centers, radii = case()
    with pytest.raises(ValueError, match="multiple of downsample"):
        stitched_predict(lambda x: net(x), image, centers, radii, tile=16, margin=2, downsample=5)
    with pytest.raises(ValueError, match="forward must map"):
        stitched_predict(lambda x: net(x)[:, :, 1:], image, centers, radii, tile=16, margin=2)
    with pytest.raises(ValueError, match="image must be a floating"):
        stitched_predict(lambda x: net(x), image[:2], centers, radii)
    with pytest.raises(ValueError, match="empty scale list"):
        stitched_predict(lambda x: net(x), image, centers, radii[:, None][:, :0])
    bad = centers.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="centers must be finite"):
        stitched_predict(lambda x: net(x), image, bad, radii)
