#!/usr/bin/env bash
# The CUDA check: one command that proves or disproves the CUDA code on a lent GPU machine (no
# internet; a Python with torch, nvcc, CMake and ninja; none of the data layer's -dev packages).
#
#   scripts/device_check.sh            on the GPU machine (about 5 minutes on 16 cores)
#   scripts/device_check.sh --dry-run  anywhere (CI): everything but the GPU steps
#                                      (also STX_DEVICE_CHECK_DRY=1)
#
# 1. builds libstx and stx._C with the CUDA kernels (arch $STX_CUDA_ARCH_LIST, default 9.0) and
#    without the data layer (STX_WITH_DATA=OFF: the readers need HDF5/OpenSlide/... headers that such
#    a machine lacks); ops, modules and envs are all there;
# 2. runs every CUDA test: `pytest -m cuda` over the test files that have CUDA cases (the device
#    halves of the per-op tests and tests/python/test_cuda_*.py). There are no CUDA GoogleTests (the
#    C++ suite needs the data layer and exercises the CPU kernels);
# 3. runs compute-sanitizer memcheck and racecheck over a short CUDA test subset (alongside 2);
#    a missing tool or a refused device ("Device not supported") is reported and the check goes on;
# 4. runs the GPU benchmarks (scripts/bench/gpu.py) against the targets;
# 5. writes one summary, $OUT/device_check.md (OUT defaults to <build dir>/out).
# The dry run builds (with CUDA when nvcc is found), collects the CUDA tests, runs the test_cuda_*
# bodies against the CPU (STX_CUDA_TEST_DEVICE=cpu) and the benchmark code at quick sizes on the
# CPU, and writes the same summary, so nothing here can rot unnoticed.
#
# Environment: STX_PYTHON (a Python with torch; else .venv/bin/python, python3, python are tried),
# STX_DEVICE_CHECK_BUILD_DIR (default build/device), STX_CUDA_ARCH_LIST, OUT, JOBS (default nproc).
# Exit status: 0 when every step that ran passed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
START=$(date +%s)

DRY="${STX_DEVICE_CHECK_DRY:-0}"
[[ "${1:-}" == "--dry-run" ]] && DRY=1
BUILD="${STX_DEVICE_CHECK_BUILD_DIR:-build/device}"
OUT="${OUT:-$BUILD/out}"
JOBS="${JOBS:-$(nproc)}"
LOGS="$BUILD/logs"
rm -rf "$LOGS"  # no log of an earlier run may leak into this summary
mkdir -p "$LOGS" "$OUT"
STEPS="$LOGS/steps.tsv"  # step <TAB> status <TAB> seconds <TAB> detail, read by the report
: >"$STEPS"

log() { echo "[device_check $(($(date +%s) - START))s] $*"; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$STEPS"; }
# Seconds left of the 460 s the GPU run may take (8 minutes, with a margin for the report); each
# step after the build is cut to what is left, never below a minimum that lets it say something.
left() { echo $((460 - ($(date +%s) - START))); }
atleast() { echo $(($1 > $2 ? $1 : $2)); }

# --- the Python that holds torch ---------------------------------------------------------------
PY=""
for candidate in "${STX_PYTHON:-}" .venv/bin/python python3 python; do
  [[ -n "$candidate" ]] || continue
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import torch" >/dev/null 2>&1; then
    PY=$(command -v "$candidate")
    [[ $PY == /* ]] || PY="$PWD/$PY"  # absolute: CMake would not take a relative .venv/bin/python
    break
  fi
done
if [[ -z "$PY" ]]; then
  echo "device_check: no Python with torch found (set STX_PYTHON)" >&2
  record environment fail 0 "no Python with torch"
  exit 1
fi
"$PY" - >"$LOGS/environment.txt" 2>&1 <<'EOF'
import platform, sys, sysconfig, os, torch
print(f"python {platform.python_version()} at {sys.executable}")
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), cuda available: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"GPU {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs, sm_{p.major}{p.minor}")
print(f"Python.h: {os.path.isfile(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))}")
print(f"CPU cores: {os.cpu_count()}")
EOF
NVCC=$(command -v nvcc || true)
[[ -z "$NVCC" && -x /usr/local/cuda/bin/nvcc ]] && NVCC=/usr/local/cuda/bin/nvcc
{ echo "nvcc: ${NVCC:-not found} $([[ -n "$NVCC" ]] && "$NVCC" --version | tail -1)"
  echo "cmake: $(cmake --version | head -1), ninja $(ninja --version 2>/dev/null || echo missing)"
  echo "compute-sanitizer: $(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || echo not found)"
  echo "mode: $([[ $DRY == 1 ]] && echo dry run || echo GPU run)"; } >>"$LOGS/environment.txt"
cat "$LOGS/environment.txt"

export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"  # build-dir-relative paths: ccache hits across build dirs
export STX_BUILD_DIR="$ROOT/$BUILD" PYTHONPATH="$ROOT/torch_ext${PYTHONPATH:+:$PYTHONPATH}"
export CUBLAS_WORKSPACE_CONFIG=":4096:8" PYTHONUNBUFFERED=1

# --- 1. build ------------------------------------------------------------------------------------
t0=$(date +%s)
CUDA=ON
if [[ -z "$NVCC" ]]; then
  if [[ $DRY == 1 ]]; then CUDA=OFF; else
    record build fail 0 "nvcc not found"; CUDA=""; fi
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
build_ok=0
if [[ -n "$CUDA" ]]; then
  log "build: CUDA=$CUDA, data layer off, -j$JOBS"
  if cmake -S . -B "$BUILD" -G Ninja -DPython_EXECUTABLE="$PY" -DSTX_WITH_CUDA="$CUDA" -DSTX_WITH_DATA=OFF \
       -DSTX_BUILD_TESTS=OFF -DSTX_CUDA_ARCH_LIST="${STX_CUDA_ARCH_LIST:-9.0}" \
       ${NVCC:+-DCMAKE_CUDA_COMPILER="$NVCC"} "${launcher[@]}" >"$LOGS/configure.log" 2>&1 &&
     cmake --build "$BUILD" -j "$JOBS" --target stx stx_python >"$LOGS/build.log" 2>&1 &&
     "$PY" - "$ROOT/torch_ext" >>"$LOGS/build.log" 2>&1 <<'EOF'; then
import os, sys
import stx
where = os.path.realpath(stx.__file__)
assert where.startswith(os.path.realpath(sys.argv[1]) + os.sep), f"stx imports from {where}, not from this checkout"
print("stx", stx.__version__, "cuda", stx.has_cuda(), "data", stx.has_data())
EOF
    build_ok=1
    record build pass $(($(date +%s) - t0)) "CUDA=$CUDA, STX_WITH_DATA=OFF; $(tail -1 "$LOGS/build.log")"
  else
    record build fail $(($(date +%s) - t0)) "see the log excerpt below"
    cp "$LOGS/configure.log" "$LOGS/build_failure.log" 2>/dev/null; tail -40 "$LOGS/build.log" >>"$LOGS/build_failure.log"
  fi
fi
log "build done ($build_ok)"

# The test files that hold CUDA cases: parametrised with devices(), or marked cuda.
mapfile -t CUDA_FILES < <(grep -l -E 'devices\(\)|mark\.cuda' tests/python/test_*.py)
# The sanitizer subset: small tests that still reach every CUDA kernel (pool/splat with both paths,
# label_pool, top-k incl. masks and k > N, majority filter, merge, soft labels fwd+bwd, losses).
SANITIZER_TESTS=(
  tests/python/test_cuda_spot_pool.py::test_multiscale_agrees
  tests/python/test_cuda_spot_pool.py::test_empty_inputs_agree
  tests/python/test_cuda_spot_pool.py::test_deterministic_splat_matches_the_atomic_path
  tests/python/test_cuda_label_pool.py::test_layouts_and_empty_inputs_agree
  tests/python/test_cuda_retrieval.py::test_mask_exclude_self_and_k_beyond_the_candidates
  tests/python/test_cuda_retrieval.py::test_majority_and_filtered_topk_agree
  tests/python/test_cuda_retrieval.py::test_merge_topk_agrees
  tests/python/test_cuda_soft_labels.py::test_empty_inputs_agree
  tests/python/test_cuda_losses.py::test_float32_losses_agree
)
PYTEST=("$PY" -m pytest -q -p no:cacheprovider -rfE --durations=8)
"$PY" -c "import pytest_timeout" 2>/dev/null && PYTEST+=(--timeout 240)

sanitizer() {  # tool: runs the subset under compute-sanitizer --tool <tool>, records the outcome
  local tool=$1 limit=$2 cs t0 rc
  t0=$(date +%s)
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
  if [[ -z "$cs" ]]; then record "sanitizer $tool" skipped 0 "compute-sanitizer not installed"; return; fi
  # No caching allocator: memcheck then sees every tensor's real bounds.
  PYTORCH_NO_CUDA_MEMORY_CACHING=1 timeout "$limit" "$cs" --tool "$tool" --error-exitcode 86 \
    "${PYTEST[@]}" -k "not float64 and not large" "${SANITIZER_TESTS[@]}" >"$LOGS/sanitizer_$tool.log" 2>&1
  rc=$?
  local took=$(($(date +%s) - t0)) summary
  summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY| in [0-9.]+s" "$LOGS/sanitizer_$tool.log" | tail -2 | tr '\n' ' ')
  if grep -q "Device not supported" "$LOGS/sanitizer_$tool.log"; then
    record "sanitizer $tool" skipped "$took" "the device refused compute-sanitizer (Device not supported)"
  elif [[ $rc == 124 ]]; then
    record "sanitizer $tool" fail "$took" "timed out after ${limit}s; $summary"
  elif [[ $rc == 0 ]] && ! grep -qE "[0-9]+ passed" "$LOGS/sanitizer_$tool.log"; then
    record "sanitizer $tool" fail "$took" "no test ran under the sanitizer; $summary"
  elif [[ $rc == 0 ]]; then
    record "sanitizer $tool" pass "$took" "$summary"
  else
    record "sanitizer $tool" fail "$took" "exit $rc; $summary"
  fi
}

if [[ $build_ok == 1 && $DRY == 1 ]]; then
  # --- dry run: collect, execute the test_cuda_* bodies on the CPU, smoke the benchmark -------------
  t0=$(date +%s)
  "${PYTEST[@]}" --collect-only -m cuda "${CUDA_FILES[@]}" >"$LOGS/collect.log" 2>&1
  rc=$?
  n=$(grep -cE '::' "$LOGS/collect.log")
  record "collect CUDA tests" "$([[ $rc == 0 && $n -gt 0 ]] && echo pass || echo fail)" $(($(date +%s) - t0)) \
    "$n CUDA tests in ${#CUDA_FILES[@]} files"
  t0=$(date +%s)
  STX_CUDA_TEST_DEVICE=cpu "${PYTEST[@]}" tests/python/test_cuda_*.py tests/python/test_device_agreement.py \
    --junitxml="$LOGS/cuda_tests.xml" >"$LOGS/cuda_tests.log" 2>&1
  record "CUDA test bodies on the CPU" "$([[ $? == 0 ]] && echo pass || echo fail)" $(($(date +%s) - t0)) \
    "STX_CUDA_TEST_DEVICE=cpu: the test_cuda_* files run against the CPU; $(tail -1 "$LOGS/cuda_tests.log")"
  record "sanitizer memcheck" skipped 0 "dry run (no GPU)"
  record "sanitizer racecheck" skipped 0 "dry run (no GPU)"
  t0=$(date +%s)
  "$PY" scripts/bench/gpu.py --device cpu --quick --reps 1 --out "$LOGS/bench.md" >"$LOGS/bench.log" 2>&1
  record "benchmarks" "$([[ $? == 0 ]] && echo pass || echo fail)" $(($(date +%s) - t0)) "quick sizes on the CPU (code path only)"
elif [[ $build_ok == 1 ]]; then
  # --- GPU run: tests with both sanitizers alongside (tests are not timed), then the benchmarks ------
  limit=$(atleast $(($(left) - 70)) 60)  # tests and sanitizers share this window; the benchmarks get the rest
  sanitizer memcheck "$limit" &
  memcheck_pid=$!
  sanitizer racecheck "$limit" &
  racecheck_pid=$!
  t0=$(date +%s)
  jobs_flag=()
  "$PY" -c "import xdist" 2>/dev/null && jobs_flag=(-n 6)
  timeout "$limit" "${PYTEST[@]}" "${jobs_flag[@]}" -m cuda "${CUDA_FILES[@]}" \
    --junitxml="$LOGS/cuda_tests.xml" >"$LOGS/cuda_tests.log" 2>&1
  rc=$?
  record "CUDA tests" "$([[ $rc == 0 ]] && echo pass || echo fail)" $(($(date +%s) - t0)) \
    "$([[ $rc == 124 ]] && echo 'timed out; ')$(tail -1 "$LOGS/cuda_tests.log")"
  wait "$memcheck_pid" "$racecheck_pid"
  log "tests and sanitizers done"
  t0=$(date +%s)
  timeout "$(atleast $(($(left) - 8)) 45)" "$PY" scripts/bench/gpu.py --device cuda --out "$LOGS/bench.md" \
    >"$LOGS/bench.log" 2>&1
  rc=$?
  record "benchmarks" "$([[ $rc == 0 ]] && echo pass || echo fail)" $(($(date +%s) - t0)) \
    "$([[ $rc == 124 ]] && echo 'timed out')"
fi

# --- 5. the summary ----------------------------------------------------------------------------
"$PY" scripts/device_check_report.py --logs "$LOGS" --out "$OUT/device_check.md" --dry "$DRY" \
  --seconds $(($(date +%s) - START))
rc=$?
log "summary: $OUT/device_check.md"
exit $rc
