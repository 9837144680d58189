"""read_image_planes: raw TIFF / OME-TIFF samples (no rescaling) against PIL and NumPy, on the real
16-bit Xenium DAPI morphology images and on TIFFs written here (multi-page, compressed, every
sample type, pyramid pages flagged reduced-resolution, bad layouts)."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from PIL import Image

from stx.data.slides import read_image_planes


def write_tiff(path, pages, planar=1, tile=None, empty_last_block=False):
    """Minimal little-endian baseline TIFF, uncompressed: one strip per page, or tiles of
    tile = (width, length) with the edge tiles padded. pages: list of (array [H, W] or [H, W, S],
    new_subfile_type); NumPy dtype -> BitsPerSample/SampleFormat. empty_last_block declares the
    last tile of every page with 0 bytes (unreadable)."""
    fmt = {"u": 1, "i": 2, "f": 3}

    def blocks(arr):  # the page's strip, or its tiles in row-major order
        if planar == 2 and arr.ndim == 3:
            return [np.ascontiguousarray(np.moveaxis(arr, -1, 0)).tobytes()]
        if tile is None:
            return [np.ascontiguousarray(arr).tobytes()]
        tw, th = tile
        h, w = arr.shape[:2]
        out = []
        for y in range(0, h, th):
            for x in range(0, w, tw):
                t = np.zeros((th, tw) + arr.shape[2:], arr.dtype)
                part = arr[y:y + th, x:x + tw]
                t[:part.shape[0], :part.shape[1]] = part
                out.append(t.tobytes())
        return out

    out = bytearray(b"II*\0" + struct.pack("<I", 0))
    placed = []  # per page: (offsets, byte counts)
    for arr, _ in pages:
        offs, counts = [], []
        for data in blocks(arr):
            offs.append(len(out))
            counts.append(len(data))
            out += data + b"\0" * (len(data) & 1)
        if empty_last_block:
            counts[-1] = 0
        placed.append((offs, counts))
    ifds = []
    for (arr, subfile), (offs, counts) in zip(pages, placed):
        h, w = arr.shape[:2]
        s = arr.shape[2] if arr.ndim == 3 else 1
        assert s <= 2  # per-sample SHORT arrays then fit in the entry itself
        bits, sfmt = arr.dtype.itemsize * 8, fmt[arr.dtype.kind]
        shorts = lambda v: struct.pack("<HH", v, v if s == 2 else 0)  # noqa: E731

        def longs(values):  # inline when one value, else an array written now
            if len(values) == 1:
                return struct.pack("<I", values[0])
            at = len(out)
            out.extend(struct.pack(f"<{len(values)}I", *values))
            return struct.pack("<I", at)

        entries = [(254, 4, 1, struct.pack("<I", subfile)), (256, 4, 1, struct.pack("<I", w)),
                   (257, 4, 1, struct.pack("<I", h)), (258, 3, s, shorts(bits)), (259, 3, 1, struct.pack("<HH", 1, 0)),
                   (262, 3, 1, struct.pack("<HH", 1, 0))]
        if tile is None:
            entries += [(273, 4, 1, struct.pack("<I", offs[0])), (277, 3, 1, struct.pack("<HH", s, 0)),
                        (278, 4, 1, struct.pack("<I", h)), (279, 4, 1, struct.pack("<I", counts[0]))]
        else:
            entries += [(277, 3, 1, struct.pack("<HH", s, 0))]
        entries += [(284, 3, 1, struct.pack("<HH", planar, 0))]
        if tile is not None:
            entries += [(322, 4, 1, struct.pack("<I", tile[0])), (323, 4, 1, struct.pack("<I", tile[1])),
                        (324, 4, len(offs), longs(offs)), (325, 4, len(counts), longs(counts))]
        entries += [(339, 3, s, shorts(sfmt))]
        if len(out) & 1:
            out += b"\0"
        ifds.append(len(out))
        out += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            out += struct.pack("<HHI", tag, typ, count) + value
        out += struct.pack("<I", 0)  # next IFD, patched below
    struct.pack_into("<I", out, 4, ifds[0])
    for a, b in zip(ifds[:-1], ifds[1:]):
        n = struct.unpack_from("<H", out, a)[0]
        struct.pack_into("<I", out, a + 2 + 12 * n, b)
    path.write_bytes(bytes(out))
    return path


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["morphology_focus.ome.tif", "morphology_mip.ome.tif"])
def test_xenium_dapi_matches_pil(stx_data, name):
    path = stx_data / "xenium-sfe-toy" / name
    got = read_image_planes(path)
    ref = np.array(Image.open(path))
    assert ref.dtype == np.uint16 and got.dtype == torch.int32 and got.shape == (1, *ref.shape)
    assert torch.equal(got[0], torch.from_numpy(ref.astype(np.int32)))


@pytest.mark.parametrize("compression", [None, "tiff_lzw", "tiff_adobe_deflate"])
def test_multi_page_16_bit_through_pil_writer(tmp_path, compression):
    rng = np.random.default_rng(0)
    pages = [rng.integers(0, 65536, (37, 53), dtype=np.uint16) for _ in range(3)]
    path = tmp_path / "stack.tif"
    frames = [Image.fromarray(p) for p in pages]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression=compression)
    got = read_image_planes(path)
    assert got.dtype == torch.int32 and torch.equal(got, torch.from_numpy(np.stack(pages).astype(np.int32)))


@pytest.mark.parametrize("dtype,expect", [(np.uint8, torch.uint8), (np.int8, torch.int8), (np.uint16, torch.int32),
                                          (np.int16, torch.int16), (np.uint32, torch.int64), (np.int32, torch.int32),
                                          (np.int64, torch.int64), (np.float32, torch.float32),
                                          (np.float64, torch.float64)])
def test_every_sample_type_keeps_its_values(tmp_path, dtype, expect):
    rng = np.random.default_rng(1)
    info = np.finfo(dtype) if np.dtype(dtype).kind == "f" else np.iinfo(dtype)
    arr = (rng.standard_normal((9, 11, 2)) * 1e3 if np.dtype(dtype).kind == "f" else
           rng.integers(info.min, info.max, (9, 11, 2), dtype=dtype, endpoint=True)).astype(dtype)
    arr[0, 0, 0] = info.max  # extremes survive the widening
    arr[0, 1, 1] = info.min
    got = read_image_planes(write_tiff(tmp_path / "a.tif", [(arr, 0)]))
    assert got.dtype == expect and got.shape == (2, 9, 11)
    np.testing.assert_array_equal(got.numpy(), np.moveaxis(arr, -1, 0).astype(got.numpy().dtype))


@pytest.mark.parametrize("tile", [(16, 16), (32, 48)])
def test_tiled_pages_with_partial_edge_tiles(tmp_path, tile):
    rng = np.random.default_rng(2)
    pages = [rng.integers(0, 65536, (37, 21), dtype=np.uint16) for _ in range(2)]
    got = read_image_planes(write_tiff(tmp_path / "tiled.tif", [(p, 0) for p in pages], tile=tile))
    assert torch.equal(got, torch.from_numpy(np.stack(pages).astype(np.int32)))
    rgb = rng.integers(0, 256, (19, 40, 2), dtype=np.uint8)
    got = read_image_planes(write_tiff(tmp_path / "tiled2.tif", [(rgb, 0)], tile=tile))
    assert torch.equal(got, torch.from_numpy(np.moveaxis(rgb, -1, 0).copy()))
    from stx.data.slides import read_label_mask

    labels = rng.integers(0, 500, (37, 21)).astype(np.float32)
    mask = read_label_mask(write_tiff(tmp_path / "labels.tif", [(labels, 0)], tile=tile))
    assert torch.equal(mask, torch.from_numpy(labels.astype(np.int64)))


def test_reduced_resolution_pages_are_skipped(tmp_path):
    full = [np.full((8, 6), v, dtype=np.uint16) + np.arange(6, dtype=np.uint16) for v in (100, 200)]
    path = write_tiff(tmp_path / "pyr.tif", [(full[0], 0), (full[0][::2, ::2].copy(), 1), (full[1], 0)])
    got = read_image_planes(path)
    assert torch.equal(got, torch.from_numpy(np.stack(full).astype(np.int32)))


def test_bad_layouts_and_files_name_the_problem(tmp_path):
    a = np.zeros((4, 5), dtype=np.uint16)
    with pytest.raises(ValueError, match="page 1 is 5x3 with 16-bit .* unlike the first page \\(5x4"):
        read_image_planes(write_tiff(tmp_path / "m.tif", [(a, 0), (np.zeros((3, 5), np.uint16), 0)]))
    with pytest.raises(ValueError, match="page 1 is 5x4 with 32-bit"):
        read_image_planes(write_tiff(tmp_path / "t.tif", [(a, 0), (np.zeros((4, 5), np.float32), 0)]))
    with pytest.raises(ValueError, match="page 0 stores its 2 samples in separate planes"):
        read_image_planes(write_tiff(tmp_path / "p.tif", [(np.zeros((4, 5, 2), np.uint8), 0)], planar=2))
    with pytest.raises(ValueError, match="16-bit samples of format 3"):  # float16
        read_image_planes(write_tiff(tmp_path / "h.tif", [(np.zeros((4, 5), np.float16), 0)]))
    whole = write_tiff(tmp_path / "w.tif", [(np.arange(400, dtype=np.uint16).reshape(20, 20), 0)]).read_bytes()
    (tmp_path / "cut.tif").write_bytes(whole[:300])
    with pytest.raises(ValueError, match="cut.tif"):
        read_image_planes(tmp_path / "cut.tif")
    Image.new("RGB", (4, 4)).save(tmp_path / "x.png")
    with pytest.raises(ValueError, match="x.png' is not a TIFF file"):
        read_image_planes(tmp_path / "x.png")
    with pytest.raises(ValueError, match="missing.tif"):
        read_image_planes(tmp_path / "missing.tif")


def test_corrupt_tile_size_is_an_error_not_an_allocation(tmp_path):
    # Found by the image fuzz target: a 3x1 tiled image whose tile length (from a corrupt
    # RowsPerStrip) is ~4.2e9 rows, so decoding one tile would have allocated ~150 GB.
    import base64

    path = tmp_path / "tile.tif"
    path.write_bytes(base64.b64decode(
        "SUkqAAgAAAAKAAABBAABAAAAAwAAAAEBAwABAAAAAQAA9FcAAAABAAAAAQAAABEBBAABAAAAhgAAABYBBAABAAAAAAAJ+////wgXAQQAAQAA"
        "ADoAIAAAAFOQQQAAHEIBBAABAAAACQAAAAIBAwABAAAAIAAAAAAAAwABAAAAAQD8AAAHAAAAAQEEAAEAAAAJAAABAAAAAAAAAAgACAAIAF+C"
        "wtnP6w+jIdfZgvi9EEW4QhO2JzsEO1HeLHh6MtBOHECmeVmq6X+y7YBxAAAcAQADSUkBKg=="))
    from stx.data.slides import read_label_mask

    for read in (read_image_planes, read_label_mask):
        with pytest.raises(ValueError, match="declares 9x4211671040 tiles for a 3x1 image"):
            read(path)


def test_one_page_of_a_stack(tmp_path):
    rng = np.random.default_rng(3)
    full = [rng.integers(0, 65536, (8, 6), dtype=np.uint16) for _ in range(3)]
    pages = [(full[0], 0), (full[0][::2, ::2].copy(), 1), (full[1], 0), (full[2], 0)]
    path = write_tiff(tmp_path / "stack.tif", pages)
    for k in range(3):  # reduced pages are not counted
        got = read_image_planes(path, page=k)
        assert got.shape == (1, 8, 6) and torch.equal(got[0], torch.from_numpy(full[k].astype(np.int32)))
    with pytest.raises(ValueError, match="page 3 is out of range: .* has 3 full-resolution page"):
        read_image_planes(path, page=3)
    with pytest.raises(ValueError, match="page must be >= 0, got -1"):
        read_image_planes(path, page=-1)
    # One page of a file whose pages differ: only that page is decoded and checked.
    mixed = write_tiff(tmp_path / "mixed.tif", [(full[0], 0), (np.ones((3, 5), np.float32), 0)])
    assert torch.equal(read_image_planes(mixed, page=1), torch.ones(1, 3, 5))
    with pytest.raises(ValueError, match="unlike the first page"):
        read_image_planes(mixed)


@pytest.mark.parametrize("tile", [None, (16, 16), (32, 48)])
def test_regions_of_every_layout(tmp_path, tile):
    rng = np.random.default_rng(4)
    full = np.stack([rng.integers(0, 65536, (37, 53), dtype=np.uint16) for _ in range(2)])
    if tile is None:  # 5-row LZW strips, written by PIL
        path = tmp_path / "strips.tif"
        frames = [Image.fromarray(p) for p in full]
        frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw", tiffinfo={278: 5})
        assert len(Image.open(path).tag_v2[273]) == 8
    else:
        path = write_tiff(tmp_path / "tiles.tif", [(p, 0) for p in full], tile=tile)
    ref = torch.from_numpy(full.astype(np.int32))
    for x, y, w, h in [(0, 0, 53, 37), (0, 0, 1, 1), (52, 36, 1, 1), (5, 7, 20, 11), (16, 16, 16, 16), (17, 3, 36, 34)]:
        got = read_image_planes(path, region=(x, y, w, h))
        assert torch.equal(got, ref[:, y:y + h, x:x + w]), (x, y, w, h)
        assert torch.equal(read_image_planes(path, page=1, region=(x, y, w, h)), ref[1:, y:y + h, x:x + w])
    with pytest.raises(ValueError, match="region \\(x=40, y=0, width=14, height=1\\) reaches outside .* \\(53x37\\)"):
        read_image_planes(path, region=(40, 0, 14, 1))
    with pytest.raises(ValueError, match="needs x, y >= 0 and a positive size"):
        read_image_planes(path, region=(0, 0, 0, 5))
    with pytest.raises(ValueError, match="needs x, y >= 0 and a positive size"):
        read_image_planes(path, region=(-1, 0, 2, 2))


def test_region_decodes_only_the_tiles_it_meets(tmp_path):
    # The last tile is unreadable: a region away from it reads, the whole image does not.
    arr = np.arange(40 * 40, dtype=np.uint16).reshape(40, 40)
    path = write_tiff(tmp_path / "t.tif", [(arr, 0)], tile=(16, 16), empty_last_block=True)
    got = read_image_planes(path, region=(0, 0, 30, 30))
    assert torch.equal(got[0], torch.from_numpy(arr[:30, :30].astype(np.int32)))
    with pytest.raises(ValueError, match="tile at 32,32"):
        read_image_planes(path)
