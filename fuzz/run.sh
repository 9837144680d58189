#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (-fsanitize=fuzzer,address,undefined) and
# runs each for a bounded time. Usage: fuzz/run.sh [seconds per target, default 20] [target...]
# Targets: delimited (CSV/TSV + number parsers), json (JSON scalars), image (PNG/JPEG/TIFF, TIFF
# label masks and raw TIFF planes), hdf5 (read_10x_h5 and read_h5ad through the isolated reader).
# Needs clang and libclang-rt-dev (Debian), the project venv's torch (for c10), zlib,
# nlohmann-json, libpng, libturbojpeg, libtiff and libhdf5 (h5py/anndata for the hdf5 seeds).
# Exit status is non-zero on any finding; the crashing input is kept under build/fuzz/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET="${1:-${STX_FUZZ_SECONDS:-20}}"
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(delimited json image hdf5)
OUT="${STX_FUZZ_BUILD:-$ROOT/build/fuzz}"
PY="${STX_PYTHON:-$ROOT/.venv/bin/python}"
CXX="${STX_FUZZ_CXX:-clang++}"

say() { printf '[fuzz] %s\n' "$*"; }
command -v "$CXX" >/dev/null || { echo "[fuzz] ERROR: $CXX not found (apt-get install clang libclang-rt-dev)" >&2; exit 2; }
TORCH="$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)"

CXXFLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
          -fno-sanitize-recover=undefined -I"$ROOT/include" -I"$ROOT"
          -isystem "$TORCH/include" -isystem "$TORCH/include/torch/csrc/api/include"
          -isystem /usr/include/libpng16 -DSTX_BUILDING_LIBRARY)
TORCH_LINK=(-L"$TORCH/lib" -Wl,-rpath,"$TORCH/lib" -lc10)

build() {
  local name="$1"; shift
  say "building $name"
  "$CXX" "${CXXFLAGS[@]}" "$@" -o "$OUT/fuzz_$name"
}

seed_images() {  # tiny valid images as a starting corpus, made here (no files from elsewhere)
  local dir="$OUT/corpus/image"
  mkdir -p "$dir"
  "$PY" - "$dir" <<'PY'
import sys
import numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(0)
rgb = rng.integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
Image.fromarray(rgb).save(f"{d}/seed.png")
Image.fromarray(rgb).save(f"{d}/seed.jpg", quality=80)
Image.fromarray(rgb).save(f"{d}/seed.tif")
Image.fromarray(rgb[:, :, 0], "L").save(f"{d}/grey.tif", compression="tiff_lzw")
Image.fromarray(np.dstack([rgb, rgb[:, :, :1]]), "RGBA").save(f"{d}/alpha.png")
labels = rng.integers(0, 40, size=(9, 7))
Image.fromarray(labels.astype(np.float32)).save(f"{d}/labels_f32.tif")    # label masks (read_label_mask)
Image.fromarray(labels.astype(np.uint16)).save(f"{d}/labels_u16.tif", compression="tiff_lzw")
planes = [Image.fromarray((labels * 1000 + k).astype(np.uint16)) for k in range(3)]   # read_image_planes
planes[0].save(f"{d}/stack_u16.tif", save_all=True, append_images=planes[1:])
PY
}

seed_hdf5() {  # small 10x and h5ad files in the layouts the readers know, made here
  local dir="$OUT/corpus/hdf5"
  mkdir -p "$dir"
  "$PY" - "$dir" <<'PY'
import sys
import anndata
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
d = sys.argv[1]
rng = np.random.default_rng(0)
m = sp.random(6, 4, density=0.4, format="csc", random_state=0)
m.data = np.round(m.data * 9 + 1)
for name, legacy in (("cr3.h5", False), ("cr2.h5", True)):
    with h5py.File(f"{d}/{name}", "w") as f:
        f.attrs["filetype"] = "matrix"
        g = f.create_group("hg19" if legacy else "matrix")
        g["shape"] = np.array(m.shape, dtype=np.int32)
        g["data"], g["indices"], g["indptr"] = m.data.astype(np.int32), m.indices, m.indptr
        g["barcodes"] = np.array([b"AAAC-1", b"AAAG-1", b"AACT-1", b"AAGC-1"])
        ids, names = [f"ENSG{i}".encode() for i in range(6)], [f"G{i}".encode() for i in range(6)]
        if legacy:
            g["genes"], g["gene_names"] = ids, names
        else:
            g["features/id"], g["features/name"] = ids, names
            g.create_dataset("features/feature_type", data=["Gene Expression"] * 6, dtype=h5py.string_dtype())
a = anndata.AnnData(X=sp.random(5, 3, density=0.5, format="csr", random_state=1, dtype=np.float32))
a.obs["type"] = pd.Categorical(["a", "b", "a", "c", "b"])
a.obs["n"] = pd.array([1, None, 3, 4, 5], dtype="Int64")
a.var["gene_ids"] = ["x", "y", "z"]
a.obsm["spatial"] = rng.random((5, 2))
a.layers["counts"] = a.X.copy()
a.write_h5ad(f"{d}/small.h5ad")
PY
}

status=0
for target in "${TARGETS[@]}"; do
  case "$target" in
    delimited|json)
      build "$target" "$ROOT/fuzz/fuzz_$target.cpp" "$ROOT/datasets/text_io.cpp" "${TORCH_LINK[@]}" -lz
      corpus="$OUT/corpus/$target"; mkdir -p "$corpus"; cp -n "$ROOT/fuzz/corpus/$target"/* "$corpus"/ ;;
    image)
      build image "$ROOT/fuzz/fuzz_image.cpp" "$ROOT"/datasets/image_{io,jpeg,tiff}.cpp "${TORCH_LINK[@]}" \
        -ltorch_cpu -lpng16 -lturbojpeg -ltiff
      seed_images; corpus="$OUT/corpus/image" ;;
    hdf5)
      # shellcheck disable=SC2046
      build hdf5 "$ROOT/fuzz/fuzz_hdf5.cpp" "$ROOT"/datasets/{hdf5_io,hdf5_isolated,tenx_h5,h5ad_read,sparse_util,text_io}.cpp \
        $(pkg-config --cflags --libs hdf5) "${TORCH_LINK[@]}" -ltorch_cpu -lz
      seed_hdf5; corpus="$OUT/corpus/hdf5" ;;
    *) echo "[fuzz] ERROR: unknown target '$target' (delimited, json, image, hdf5)" >&2; exit 2 ;;
  esac
  say "running $target for ${SECONDS_PER_TARGET}s"
  # Leak checking is off: libtorch keeps process-lifetime allocations that are not bugs.
  if ! (cd "$OUT" && ASAN_OPTIONS=detect_leaks=0 "./fuzz_$target" -max_total_time="$SECONDS_PER_TARGET" \
        -max_len=65536 -rss_limit_mb=4096 -artifact_prefix="$OUT/crash_${target}_" "$corpus" \
        > "$OUT/$target.log" 2>&1); then
    say "FINDING in $target: see $OUT/$target.log and $OUT/crash_${target}_*"
    tail -40 "$OUT/$target.log"
    status=1
  else
    say "$target: $(grep -Eo 'Done [0-9]+ runs.*' "$OUT/$target.log" | tail -1 || echo done)"
  fi
done
exit "$status"
