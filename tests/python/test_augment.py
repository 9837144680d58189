"""Augmentation presets (stx/data/augment.h) against independent references: patches cut from a
transformed slide (spot-centred morphology), torch.rot90 / slicing, NumPy and SciPy."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch

from stx import _C
from stx.data.dataset import dihedral_transform
from stx.data.slides import SlideReader, extract_patches, write_png

aug = _C.slides


def smooth_image(size: int = 64, seed: int = 0) -> torch.Tensor:
    g = np.random.default_rng(seed)
    x = scipy.ndimage.gaussian_filter(g.random((3, size, size)), (0, 2, 2))
    x = (x - x.min()) / (x.max() - x.min())
    return torch.from_numpy((x * 255).round().astype(np.uint8))


def mapped_centre(size: int, centre: tuple[int, int], k: int) -> tuple[int, int]:
    """Where a pixel corner (x, y) goes under symmetry k: follow the 2x2 block around it."""
    marker = torch.zeros(size, size)
    x, y = centre
    marker[y - 1:y + 1, x - 1:x + 1] = 1
    rows, cols = torch.nonzero(dihedral_transform(marker, k), as_tuple=True)
    return int(cols.min()) + 1, int(rows.min()) + 1


@pytest.mark.parametrize("k", range(8))
def test_a_symmetry_of_a_patch_is_the_patch_of_the_transformed_slide(k, tmp_path):
    image = smooth_image()
    centres = [(20, 30), (33, 17), (40, 41)]
    write_png(tmp_path / "a.png", image.permute(1, 2, 0).contiguous())
    write_png(tmp_path / "b.png", dihedral_transform(image, k).permute(1, 2, 0).contiguous())
    patches = extract_patches(SlideReader(tmp_path / "a.png", mpp=0.5), torch.tensor(centres), 0.5, 16)
    moved = [mapped_centre(64, c, k) for c in centres]
    expected = extract_patches(SlideReader(tmp_path / "b.png", mpp=0.5), torch.tensor(moved), 0.5, 16)
    assert torch.equal(dihedral_transform(patches, k), expected)


def test_shift_scale_rotate_against_rot90_and_slicing():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16)
    zero, one = torch.zeros(2), torch.ones(2)
    torch.testing.assert_close(aug.shift_scale_rotate(x, zero, one, zero, zero), x, rtol=0, atol=1e-5)
    # counter-clockwise on screen, about the patch centre: exactly torch.rot90's quarter turns
    for quarter in (1, 2, 3):
        got = aug.shift_scale_rotate(x, torch.full((2,), 90.0 * quarter), one, zero, zero)
        torch.testing.assert_close(got, torch.rot90(x, quarter, (-2, -1)), rtol=0, atol=1e-5)
    # a shift of 2 px right and 3 px down moves the content; the border is reflected, the interior is a slice
    got = aug.shift_scale_rotate(x, zero, one, torch.full((2,), 2 / 16), torch.full((2,), 3 / 16))
    torch.testing.assert_close(got[..., 3:, 2:], x[..., :-3, :-2], rtol=0, atol=1e-5)


def test_scale_and_rotation_keep_the_spot_at_the_centre():
    # a blob centred on the patch: rotating or rescaling it about the centre leaves its centre of mass there
    yy, xx = torch.meshgrid(torch.arange(32.0) + 0.5, torch.arange(32.0) + 0.5, indexing="ij")
    blob = torch.exp(-((xx - 16) ** 2 + (yy - 12) ** 2) / 20.0)  # off-centre in y so rotation moves it
    x = blob.expand(1, 3, 32, 32).contiguous()
    out = aug.shift_scale_rotate(x, torch.tensor([90.0]), torch.tensor([1.1]), torch.zeros(1), torch.zeros(1))[0, 0]
    cx, cy = (out * xx).sum() / out.sum(), (out * yy).sum() / out.sum()
    # 90 degrees counter-clockwise about (16, 16): (16, 12) -> (12, 16), and 1.1x further out: (11.6, 16)
    assert abs(cx.item() - (16 - 4 * 1.1)) < 0.2 and abs(cy.item() - 16) < 0.2


def test_colour_jitter_against_numpy():
    torch.manual_seed(1)
    x = torch.rand(3, 3, 8, 8)
    b, c, s = torch.tensor([0.9, 1.0, 1.1]), torch.tensor([1.1, 0.95, 1.0]), torch.tensor([0.9, 1.05, 1.0])
    got = aug.colour_jitter(x, b, c, s)
    w = np.array([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)
    ref = x.double().numpy() * b.numpy().reshape(-1, 1, 1, 1)
    mean = (ref * w).sum(1, keepdims=True).mean((2, 3), keepdims=True)
    ref = (ref - mean) * c.numpy().reshape(-1, 1, 1, 1) + mean
    grey = (ref * w).sum(1, keepdims=True)
    ref = np.clip((ref - grey) * s.numpy().reshape(-1, 1, 1, 1) + grey, 0, 1)
    torch.testing.assert_close(got.double(), torch.from_numpy(ref), rtol=0, atol=1e-5)
    torch.testing.assert_close(aug.colour_jitter(x, torch.ones(3), torch.ones(3), torch.ones(3)), x)


@pytest.mark.parametrize("sigma", [0.5, 1.0])
def test_gaussian_blur_against_scipy(sigma):
    torch.manual_seed(2)
    x = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    radius = int(np.ceil(3 * sigma))
    ref = scipy.ndimage.gaussian_filter(x.numpy(), (0, 0, sigma, sigma), mode="mirror", truncate=radius / sigma)
    torch.testing.assert_close(aug.gaussian_blur(x, sigma), torch.from_numpy(ref), rtol=0, atol=1e-9)


def test_presets():
    assert aug.augment_presets() == ["dihedral", "morphology", "stnet", "none"]
    torch.manual_seed(3)
    x = torch.rand(4, 3, 16, 16)
    assert torch.equal(aug.augment(x, "none", 0), x)
    symmetries = [dihedral_transform(x, k) for k in range(8)]
    assert any(torch.equal(aug.augment(x, "dihedral", 5), s) for s in symmetries)
    for preset in ("dihedral", "morphology", "stnet"):
        assert torch.equal(aug.augment(x, preset, 7), aug.augment(x, preset, 7))  # seeded
    # morphology changes geometry only: a flat colour stays that colour; ST-Net's jitter changes it
    flat = torch.full((4, 3, 16, 16), 0.4)
    torch.testing.assert_close(aug.augment(flat, "morphology", 1), flat, rtol=0, atol=1e-6)
    assert not torch.allclose(aug.augment(flat, "stnet", 1), flat, atol=1e-3)
    with pytest.raises(ValueError, match="unknown preset 'jitter'"):
        aug.augment(x, "jitter", 0)


def test_the_training_loop_takes_a_preset():
    g = torch.Generator().manual_seed(0)
    patches = torch.randint(0, 256, (16, 3, 16, 16), dtype=torch.uint8, generator=g)
    targets = patches.float().mean((2, 3)) / 64.0
    for preset in ("morphology", "stnet"):
        c = _C.train.Config({"model": "patch_regressor", "augment": preset, "steps": 3, "batch_size": 4, "width": 4,
                             "hidden_dim": 8})
        _, losses, _ = _C.train.train(patches, targets, torch.zeros(16, dtype=torch.long), c, seed=0, retrieval=False)
        assert len(losses) == 3 and all(np.isfinite(losses))
