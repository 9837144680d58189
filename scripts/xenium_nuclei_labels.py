"""Expression labels for nuclei from a 10x Xenium run ("ST as labels for nuclei").

Reads a Xenium output folder with stx's readers and writes, per segmented nucleus, the transcripts
that overlap it, a cell-type label clustered from them, and the nucleus read out of the DAPI image:

  nuclei.h5ad   X = nuclear counts [nuclei, genes] (Gene Expression features only); obs: cell_id,
                cell_type (-1 below --min-counts), n_counts, nucleus_px, dapi_mean;
                obsm["spatial"] = nucleus centroid (µm); uns["registration"] = pixel size and origin
  nuclei.png    the DAPI image with each nucleus filled by its cell type's colour
  summary.json  counts, the type sizes and the DAPI contrast inside / outside the nuclei

Registration: pixel (r, c) of the DAPI image is centred at origin + (c + 0.5, r + 0.5) * pixel_size
in Xenium's micron frame. A full run uses 0.2125 µm/px and origin (0, 0) (the defaults); a crop
needs its own values. The DAPI contrast in summary.json checks them: nuclei are bright in DAPI, so a
mapping that misses them gives a contrast near 1 (the script warns below 1.3).

  .venv/bin/python scripts/xenium_nuclei_labels.py XENIUM_DIR --out DIR [--pixel-size 0.2125]
      [--origin 0 0] [--image morphology_focus.ome.tif] [--types 8] [--min-counts 10] [--seed 0] [--force]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

import stx
import stx.data as sdata
from stx._C import modules as _modules

OUTPUTS = ("nuclei.h5ad", "nuclei.png", "summary.json")


def first_existing(folder: Path, names: list[str]) -> Path:
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{folder} has none of {', '.join(names)}: is it a Xenium output folder?")


def run(args: argparse.Namespace) -> dict:
    xen = Path(args.xenium)
    if not xen.is_dir():
        raise NotADirectoryError(f"{xen} is not a folder")
    if args.pixel_size <= 0:
        raise ValueError(f"--pixel-size must be positive, got {args.pixel_size}")
    if args.types < 1 or args.min_counts < 0:
        raise ValueError("--types must be >= 1 and --min-counts >= 0")
    out = Path(args.out)
    taken = [n for n in OUTPUTS if (out / n).exists()]
    if taken and not args.force:
        raise FileExistsError(f"--out {out} already holds {', '.join(taken)}; choose another folder or pass --force")

    nuclei = sdata.read_xenium_polygons(first_existing(xen, ["nucleus_boundaries.csv.gz", "nucleus_boundaries.csv"]))
    tx = sdata.read_xenium_transcripts(first_existing(xen, ["transcripts.csv.gz", "transcripts.csv"]))
    matrix = sdata.read_10x_h5(first_existing(xen, ["cell_feature_matrix.h5"]))
    genes = [n for n, t in zip(matrix.feature_names, matrix.feature_types) if t == "Gene Expression"]
    counts = sdata.xenium_cell_counts(tx, nuclei.ids, genes, nucleus_only=True)  # row p = polygon p

    # Page 0 only: multi-channel morphology images (Xenium >= 2.0) store DAPI as the first channel.
    dapi = sdata.read_image_planes(xen / args.image if (xen / args.image).exists() else args.image, page=0)
    _, H, W = dapi.shape
    mask = sdata.rasterize_polygons(nuclei.vertices, nuclei.offsets, H, W, args.pixel_size, tuple(args.origin))
    P = len(nuclei.ids)
    mean, n_px = stx.ops.label_pool(dapi[None].float(), mask[None], P + 1, "mean", return_count=True)
    dapi_mean, n_px = mean[0, 1:, 0], n_px[0, 1:]  # first plane; label p + 1 is polygon p
    inside = mask > 0
    contrast = float(dapi[0][inside].double().mean() / dapi[0][~inside].double().mean()) if inside.any() else float("nan")

    n_counts = counts.sum(1)
    types = torch.full((P,), -1, dtype=torch.int64)
    keep = n_counts >= args.min_counts
    if int(keep.sum()) >= 2:
        log_norm = sdata.normalize_total(counts[keep].float(), target_sum=1e4, log1p=True)
        types[keep] = _modules.spot_labels(log_norm, num_labels=args.types, components=min(16, len(genes)),
                                           seed=args.seed)

    v, o = nuclei.vertices, nuclei.offsets
    centroids = torch.stack([v[o[p]:o[p + 1]].mean(0) for p in range(P)]) if P else torch.zeros(0, 2)
    out.mkdir(parents=True, exist_ok=True)
    write_h5ad(out / "nuclei.h5ad", counts, genes, nuclei.ids, types, n_counts, n_px, dapi_mean, centroids, args)
    write_overlay(out / "nuclei.png", dapi[0], mask, types)
    summary = {
        "nuclei": P, "genes": len(genes), "nuclear_transcripts": int(n_counts.sum()),
        "labelled": int((types >= 0).sum()), "type_sizes": torch.bincount(types[types >= 0]).tolist(),
        "nuclei_in_image": int((n_px > 0).sum()), "dapi_contrast": contrast,
        "pixel_size_um": args.pixel_size, "origin_um": list(args.origin),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if not contrast >= 1.3:
        print(f"warning: DAPI inside the nuclei is only {contrast:.2f}x the background; check --pixel-size "
              f"and --origin", file=sys.stderr)
    return summary


def write_h5ad(path, counts, genes, ids, types, n_counts, n_px, dapi_mean, centroids, args) -> None:
    import anndata
    import pandas as pd
    import scipy.sparse as sp

    obs = pd.DataFrame({"cell_type": types.numpy(), "n_counts": n_counts.numpy(), "nucleus_px": n_px.numpy(),
                        "dapi_mean": dapi_mean.numpy()}, index=pd.Index(ids, name="cell_id"))
    adata = anndata.AnnData(X=sp.csr_matrix(counts.numpy().astype(np.int32)), obs=obs,
                            var=pd.DataFrame(index=pd.Index(genes, name="gene")))
    adata.obsm["spatial"] = centroids.numpy()
    adata.uns["registration"] = {"pixel_size_um": args.pixel_size, "origin_um": list(args.origin)}
    adata.write_h5ad(path)


def write_overlay(path, dapi, mask, types) -> None:
    grey = dapi.double()
    grey = (255 * (grey - grey.min()) / (grey.max() - grey.min()).clamp_min(1e-9)).to(torch.uint8)
    rgb = grey[..., None].expand(-1, -1, 3).clone()
    palette = (torch.tensor([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                             [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]]))
    pixel_type = torch.cat([torch.tensor([-1]), types])[mask]
    labelled = pixel_type >= 0
    colour = palette[pixel_type[labelled] % len(palette)]
    rgb[labelled] = ((rgb[labelled].int() + colour) // 2).to(torch.uint8)
    sdata.write_png(path, rgb)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("xenium", help="Xenium output folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--image", default="morphology_focus.ome.tif", help="DAPI image (in the folder, or a path)")
    ap.add_argument("--pixel-size", type=float, default=0.2125, help="µm per DAPI pixel")
    ap.add_argument("--origin", type=float, nargs=2, default=(0.0, 0.0), metavar=("X", "Y"),
                    help="µm position of the image's top-left corner")
    ap.add_argument("--types", type=int, default=8, help="cell-type clusters")
    ap.add_argument("--min-counts", type=int, default=10, help="nuclear transcripts needed for a label")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="overwrite earlier outputs in --out")
    args = ap.parse_args(argv)
    try:
        summary = run(args)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
