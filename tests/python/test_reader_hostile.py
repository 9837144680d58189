"""Readers on hostile and careless inputs: every case ends with a clear error naming the file (or
a correct result), never a crash, a hang, a huge allocation or a silently changed value.
Results are checked against h5py/scipy; errors by their message."""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import zlib

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
import torch

import stx  # noqa: F401
from stx import data as sd

CR3 = "10x-h5-scanpy/3.0.0/filtered_feature_bc_matrix.h5"


def run_python(code: str, timeout: float = 120, **env) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter with this one's import path: a crash there cannot take the
    test run down."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=full_env)


def write_10x(path, csc: sp.csc_matrix, data_dtype=np.int32, chunks=None):
    """A minimal Cell Ranger 3 file holding `csc` ([features, barcodes]) exactly as given: the
    entries of a column may be out of order or repeated."""
    n_features, n_barcodes = csc.shape
    with h5py.File(path, "w") as f:
        g = f.create_group("matrix")
        g["shape"] = np.array([n_features, n_barcodes], dtype=np.int32)
        g.create_dataset("data", data=csc.data.astype(data_dtype), chunks=chunks)
        g["indices"] = csc.indices.astype(np.int64)
        g["indptr"] = csc.indptr.astype(np.int64)
        g["barcodes"] = np.array([f"B{i}".encode() for i in range(n_barcodes)])
        feats = g.create_group("features")
        feats["id"] = np.array([f"G{i}".encode() for i in range(n_features)])
        feats["name"] = np.array([f"g{i}".encode() for i in range(n_features)])


# --- 10x HDF5: valid torch CSR, no silent sums or saturation ------------------------------------

@pytest.mark.realdata
def test_cr3_csr_is_valid_and_matches_h5py(stx_data):
    path = stx_data / CR3
    m = sd.read_10x_h5(path, dtype="keep")
    c = m.counts
    torch._validate_sparse_csr_tensor_args(c.crow_indices(), c.col_indices(), c.values(), c.shape)
    with h5py.File(path, "r") as f:
        g = f["matrix"]
        ref = sp.csc_matrix((g["data"][:], g["indices"][:], g["indptr"][:]), shape=tuple(g["shape"][:]))
    unsorted = any(np.any(np.diff(ref.indices[a:b]) <= 0) for a, b in zip(ref.indptr[:-1], ref.indptr[1:]))
    assert unsorted, "the real Cell Ranger 3 file stores unsorted rows: the test needs that"
    expected = ref.T.tocsr()
    expected.sort_indices()
    np.testing.assert_array_equal(c.crow_indices().numpy(), expected.indptr)
    np.testing.assert_array_equal(c.col_indices().numpy(), expected.indices)
    np.testing.assert_array_equal(c.values().numpy(), expected.data)


def test_10x_unsorted_rows_sorted_and_duplicates_refused(tmp_path):
    indptr = np.array([0, 3, 3, 5])
    indices = np.array([4, 0, 2, 3, 1])
    data = np.array([1, 2, 3, 4, 5])
    csc = sp.csc_matrix((data, indices, indptr), shape=(5, 3))
    write_10x(tmp_path / "unsorted.h5", csc)
    m = sd.read_10x_h5(tmp_path / "unsorted.h5", dtype="keep").counts
    torch._validate_sparse_csr_tensor_args(m.crow_indices(), m.col_indices(), m.values(), m.shape)
    np.testing.assert_array_equal(m.to_dense().numpy(), csc.T.toarray())
    dup = sp.csc_matrix((data, np.array([4, 0, 4, 3, 1]), indptr), shape=(5, 3))
    write_10x(tmp_path / "dup.h5", dup)
    with pytest.raises(ValueError, match=r"duplicate entry in compressed row 0 at index 4"):
        sd.read_10x_h5(tmp_path / "dup.h5")


def test_10x_values_that_overflow_are_refused(tmp_path):
    csc = sp.csc_matrix((np.array([1, 2]), np.array([0, 1]), np.array([0, 1, 2])), shape=(2, 2))
    write_10x(tmp_path / "u64.h5", csc, data_dtype=np.uint64)
    with h5py.File(tmp_path / "u64.h5", "r+") as f:
        f["matrix/data"][0] = np.uint64(2**64 - 5)
    with pytest.raises(ValueError, match=r"uint64 values above 2\^63 - 1"):
        sd.read_10x_h5(tmp_path / "u64.h5", dtype="keep")
    write_10x(tmp_path / "i64.h5", csc, data_dtype=np.int64)
    with h5py.File(tmp_path / "i64.h5", "r+") as f:
        f["matrix/data"][0] = 2**40
    with pytest.raises(ValueError, match=r"do not fit the requested Int"):
        sd.read_10x_h5(tmp_path / "i64.h5", dtype=torch.int32)
    # a value that fits keeps its exact value
    assert sd.read_10x_h5(tmp_path / "i64.h5", dtype="keep").counts.values()[0].item() == 2**40


def test_10x_declared_size_beyond_the_file(tmp_path):
    """A small file whose `data` declares 2^28 entries (chunks never written) must not allocate."""
    path = tmp_path / "bomb.h5"
    csc = sp.csc_matrix((np.array([1, 2, 3]), np.array([0, 1, 3]), np.array([0, 1, 2, 3])), shape=(4, 3))
    write_10x(path, csc)
    with h5py.File(path, "r+") as f:
        del f["matrix/data"]
        f["matrix"].create_dataset("data", shape=(2**28,), dtype=np.int32, chunks=(4096,))
        del f["matrix/indptr"]
        f["matrix/indptr"] = np.array([0, 1, 2, 2**28], dtype=np.int64)
    assert path.stat().st_size < 20_000
    with pytest.raises(ValueError, match=r"expected \[268435456\]|declares 268435456 elements"):
        sd.read_10x_h5(path)
    with h5py.File(path, "r+") as f:  # lengths agree with indptr: the storage check catches it
        del f["matrix/indices"]
        f["matrix"].create_dataset("indices", shape=(2**28,), dtype=np.int64, chunks=(4096,))
    with pytest.raises(ValueError, match=r"declares 268435456 elements \(\d+ bytes\) but the file stores only"):
        sd.read_10x_h5(path)


# --- the isolated HDF5 reader --------------------------------------------------------------------

@pytest.mark.realdata
def test_isolated_and_in_process_reads_agree(stx_data, tmp_path):
    """The default (isolated) read equals an in-process read (STX_HDF5_ISOLATE=0) of the same files."""
    h5ad = stx_data / "pbmc68k-reduced/10x_pbmc68k_reduced.h5ad"
    out = tmp_path / "in_process.pt"
    r = run_python(
        "import stx, torch; from stx import data as sd\n"
        f"m = sd.read_10x_h5({str(stx_data / CR3)!r}, dtype='keep')\n"
        f"a = sd.read_h5ad({str(h5ad)!r})\n"
        "torch.save({'counts': m.counts.to_dense(), 'barcodes': m.barcodes, 'attrs': dict(m.attributes),"
        " 'X': a.X, 'obsm': dict(a.obsm), 'obs': {k: (c.kind, c.values, list(c.strings)) for k, c in a.obs.columns.items()},"
        " 'raw': a.raw_X.to_dense() if a.raw_X is not None else None}, "
        f"{str(out)!r})\n",
        STX_HDF5_ISOLATE="0")
    assert r.returncode == 0, r.stderr
    ref = torch.load(out, weights_only=False)
    m = sd.read_10x_h5(stx_data / CR3, dtype="keep")
    a = sd.read_h5ad(h5ad)
    assert torch.equal(m.counts.to_dense(), ref["counts"])
    assert m.barcodes == ref["barcodes"] and dict(m.attributes) == ref["attrs"]
    assert torch.equal(a.X, ref["X"]) and a.obsm.keys() == ref["obsm"].keys()
    assert all(torch.equal(a.obsm[k], v) for k, v in ref["obsm"].items())
    for k, (kind, values, strings) in ref["obs"].items():
        c = a.obs.columns[k]
        assert c.kind == kind and list(c.strings) == strings
        assert (values is None and c.values is None) or torch.equal(c.values, values)
    assert (ref["raw"] is None) == (a.raw_X is None)
    if a.raw_X is not None:
        assert torch.equal(a.raw_X.to_dense(), ref["raw"])


@pytest.mark.realdata
def test_isolated_reader_times_out(stx_data):
    r = run_python("import stx\nfrom stx import data as sd\n"
                   f"try:\n    sd.read_h5ad({str(stx_data / 'pbmc68k-reduced/10x_pbmc68k_reduced.h5ad')!r})\n"
                   "except ValueError as e:\n    print('ERR', e)\n", STX_HDF5_TIMEOUT="0.000001")
    assert r.returncode == 0, r.stderr
    assert "did not finish in time" in r.stdout and "10x_pbmc68k_reduced.h5ad" in r.stdout
    r = run_python("import stx\nfrom stx import data as sd\n"
                   "try:\n    sd.read_h5ad('x.h5ad')\nexcept ValueError as e:\n    print('ERR', e)\n",
                   STX_HDF5_TIMEOUT="soon")
    assert "STX_HDF5_TIMEOUT must be a positive number" in r.stdout


def test_isolated_reader_keeps_threads_working(tmp_path):
    """The child is forked from a process whose intra-op thread pool is running; both go on working."""
    csc = sp.random(300, 200, density=0.05, format="csc", random_state=3, dtype=np.float64)
    csc.data = np.round(csc.data * 100)
    write_10x(tmp_path / "m.h5", csc)
    torch.set_num_threads(max(2, torch.get_num_threads()))
    x = torch.randn(512, 512)
    before = (x @ x).sum()
    for _ in range(3):
        m = sd.read_10x_h5(tmp_path / "m.h5", dense=True, dtype=torch.float64).counts
        np.testing.assert_array_equal(m.numpy(), csc.T.toarray())
    assert torch.equal((x @ x).sum(), before)


# --- huge declared sizes in text, images ---------------------------------------------------------

def gz_line_bomb(path, header: str, line_bytes: int):
    """A gzip file whose second line is `line_bytes` of 'a': a few hundred KB on disk."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(header.encode() + b"\n")
        block = b"a" * (1 << 20)
        for _ in range(line_bytes // len(block)):
            f.write(block)
        f.write(b"\n")


HEADERS = {  # as in the real files
    "read_xenium_cells": "cell_id,x_centroid,y_centroid,transcript_counts,control_probe_counts,"
                         "control_codeword_counts,unassigned_codeword_counts,total_counts,cell_area,nucleus_area",
    "read_xenium_transcripts": "transcript_id,cell_id,overlaps_nucleus,feature_name,x_location,y_location,"
                               "z_location,qv,fov_name,nucleus_distance",
    "read_cosmx_transcripts": "fov,cell_ID,x_global_px,y_global_px,x_local_px,y_local_px,z,target,CellComp",
}


@pytest.mark.parametrize("reader", sorted(HEADERS))
def test_text_line_limit(tmp_path, reader):
    path = tmp_path / "bomb.csv.gz"
    gz_line_bomb(path, HEADERS[reader], 80 << 20)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ValueError, match=r"bomb\.csv\.gz: line 2 is longer than 67108864 bytes"):
        getattr(sd, reader)(path)


def test_text_line_limit_legacy_st_and_mtx(tmp_path):
    gz_line_bomb(tmp_path / "counts.tsv.gz", "\tA", 80 << 20)
    (tmp_path / "spots.tsv").write_text("x\ty\tpixel_x\tpixel_y\n1\t1\t1\t1\n")
    with pytest.raises(ValueError, match=r"counts\.tsv\.gz: line 2 is longer than"):
        sd.read_legacy_st(tmp_path / "counts.tsv.gz", tmp_path / "spots.tsv")
    folder = tmp_path / "mtx"
    folder.mkdir()
    (folder / "barcodes.tsv").write_text("A\n")
    (folder / "features.tsv").write_text("g\tG\n")
    gz_line_bomb(folder / "matrix.mtx.gz", "%%MatrixMarket matrix coordinate integer general", 80 << 20)
    with pytest.raises(ValueError, match=r"matrix\.mtx\.gz: line 2 is longer than"):
        sd.read_10x_mtx(folder)


def test_non_utf8_text_names_file_and_line(tmp_path):
    path = tmp_path / "cells.csv"
    header = HEADERS["read_xenium_cells"].encode()
    path.write_bytes(header + b"\nc1,1,2,3,0,0,0,3,10,5\nc\xff2,3,4,3,0,0,0,3,10,5\n")
    with pytest.raises(ValueError, match=r"cells\.csv: line 3: field 1 is not valid UTF-8 text \(byte 0xFF"):
        sd.read_xenium_cells(path)
    folder = tmp_path / "mtx"
    folder.mkdir()
    (folder / "barcodes.tsv").write_bytes(b"A\n\xc3\x28B\n")  # an invalid 2-byte sequence
    (folder / "features.tsv").write_text("g\tG\n")
    (folder / "matrix.mtx").write_text("%%MatrixMarket matrix coordinate integer general\n1 2 1\n1 1 5\n")
    with pytest.raises(ValueError, match=r"barcodes\.tsv: line 2: field 1 is not valid UTF-8"):
        sd.read_10x_mtx(folder)
    csc = sp.csc_matrix((np.array([1]), np.array([0]), np.array([0, 1])), shape=(1, 1))
    write_10x(tmp_path / "latin1.h5", csc)
    with h5py.File(tmp_path / "latin1.h5", "r+") as f:
        del f["matrix/barcodes"]
        f["matrix/barcodes"] = np.array([b"caf\xe9"])
    with pytest.raises(ValueError, match=r"latin1\.h5:/matrix/barcodes: entry 0 is not valid UTF-8"):
        sd.read_10x_h5(tmp_path / "latin1.h5")
    # valid multi-byte text reads
    path.write_bytes(header + "\nzelle-\u00e4\u4e2d\U0001f600,1,2,3,0,0,0,3,10,5\n".encode())
    assert sd.read_xenium_cells(path).cell_ids == ["zelle-\u00e4\u4e2d\U0001f600"]


# --- MatrixMarket --------------------------------------------------------------------------------

def mtx_folder(tmp_path, body: str, n_features=2, n_barcodes=2):
    folder = tmp_path / "mtx"
    folder.mkdir(exist_ok=True)
    (folder / "barcodes.tsv").write_text("".join(f"B{i}\n" for i in range(n_barcodes)))
    (folder / "features.tsv").write_text("".join(f"G{i}\tg{i}\n" for i in range(n_features)))
    (folder / "matrix.mtx").write_text(body)
    return folder


@pytest.mark.parametrize("banner, message", [
    ("%%MatrixMarket matrix coordinate integer symmetric", "symmetry 'symmetric' is not supported"),
    ("%%MatrixMarket matrix coordinate real skew-symmetric", "symmetry 'skew-symmetric' is not supported"),
    ("%%MatrixMarket matrix coordinate complex general", "field 'complex' is not supported"),
    ("%%MatrixMarket matrix array real general", "only the sparse 'coordinate'"),
    ("%%MatrixMarket matrix coordinate integer", "expected the banner"),
])
def test_mtx_headers_refused(tmp_path, banner, message):
    with pytest.raises(ValueError, match=message):
        sd.read_10x_mtx(mtx_folder(tmp_path, banner + "\n2 2 1\n1 1 3\n"))


def test_mtx_extra_and_duplicate_entries(tmp_path):
    banner = "%%MatrixMarket matrix coordinate integer general\n"
    with pytest.raises(ValueError, match="more entries than the 1 the size line declares"):
        sd.read_10x_mtx(mtx_folder(tmp_path, banner + "2 2 1\n1 1 3\n2 2 4\n"))
    with pytest.raises(ValueError, match="1 entries repeat an earlier"):
        sd.read_10x_mtx(mtx_folder(tmp_path, banner + "2 2 2\n1 1 3\n1 1 4\n"))
    folder = mtx_folder(tmp_path, banner + "% comment\n2 2 2\n1 1 3\n2 1 4\n")
    expected = scipy.io.mmread(folder / "matrix.mtx").T.toarray()
    (folder / "matrix.mtx").write_text(banner + "% comment\n2 2 2\n1 1 3\n2 1 4\n% trailing comment\n\n")
    got = sd.read_10x_mtx(folder, dtype="keep").counts.to_dense().numpy()
    np.testing.assert_array_equal(got, expected)  # trailing comments and blank lines are allowed


# --- images --------------------------------------------------------------------------------------

def jpeg_declaring(tmp_path, height: int, width: int):
    from PIL import Image
    path = tmp_path / "small.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, quality=50)
    raw = bytearray(path.read_bytes())
    sof = raw.index(b"\xff\xc0")  # baseline SOF0: length(2) precision(1) height(2) width(2)
    raw[sof + 5: sof + 7] = height.to_bytes(2, "big")
    raw[sof + 7: sof + 9] = width.to_bytes(2, "big")
    path.write_bytes(bytes(raw))
    return path


def tiff_declaring(tmp_path, height: int, width: int):
    """An 8x8 TIFF whose ImageLength/ImageWidth tags are patched to declare height x width."""
    from PIL import Image
    path = tmp_path / "small.tif"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    raw = bytearray(path.read_bytes())
    assert raw[:2] == b"II"
    ifd = int.from_bytes(raw[4:8], "little")
    for k in range(int.from_bytes(raw[ifd:ifd + 2], "little")):
        e = ifd + 2 + 12 * k
        tag = int.from_bytes(raw[e:e + 2], "little")
        if tag in (256, 257):
            raw[e + 2:e + 4] = (4).to_bytes(2, "little")  # LONG
            raw[e + 8:e + 12] = (width if tag == 256 else height).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    return path


def test_image_pixel_limit(tmp_path):
    path = jpeg_declaring(tmp_path, 30000, 30000)
    assert path.stat().st_size < 2000
    with pytest.raises(Exception, match=r"declares 30000 x 30000 pixels, above the limit of 536870912"):
        sd.read_image(path)
    tif = tiff_declaring(tmp_path, 100000, 100000)
    with pytest.raises(Exception, match=r"declares 100000 x 100000 pixels"):
        sd.read_image(tif)
    with pytest.raises(ValueError, match=r"declares 100000 x 100000 pixels"):
        sd.read_label_mask(tif)
    with pytest.raises(ValueError, match=r"declares 100000 x 100000 pixels"):
        sd.read_image_planes(tif)
    old = sd.max_image_pixels()
    try:
        sd.set_max_image_pixels(32)
        small = tmp_path / "ok.png"
        sd.write_png(small, torch.zeros(8, 8, 3, dtype=torch.uint8))
        with pytest.raises(Exception, match=r"8 x 8 pixels, above the limit of 32"):
            sd.read_image(small)
        sd.set_max_image_pixels(0)  # no limit
        assert sd.read_image(small).shape == (8, 8, 3)
        with pytest.raises(ValueError, match="pixels must be >= 0"):
            sd.set_max_image_pixels(-1)
    finally:
        sd.set_max_image_pixels(old)
    r = run_python("import stx\nfrom stx import data as sd\nprint(sd.max_image_pixels())", STX_MAX_IMAGE_PIXELS="1234")
    assert r.stdout.strip() == "1234", r.stderr


def test_image_readers_refuse_fifos(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    code = ("import stx\nfrom stx import data as sd\n"
            "for f in (sd.read_image, sd.read_label_mask, sd.read_image_planes, sd.SlideReader):\n"
            "    try:\n        f(%r)\n    except Exception as e:\n        print('ERR', e)\n") % str(fifo)
    r = run_python(code, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 4 and all("is not a regular file" in line for line in lines), r.stdout
