#!/usr/bin/env bash
# Builds the stx wheel with `pip wheel` and checks that it installs into a clean venv (the wheel and
# its declared dependencies only, no requirements.txt) and works there: import stx, one operator
# and one environment step.
#
#   bash scripts/wheel_smoke.sh            # wheel in dist/, venv in a temporary folder
#
# The build needs the Debian -dev packages of the normal build (scripts/setup.sh installs them) and
# the project venv (.venv, or STX_VENV) for torch and scikit-build-core: the wheel is built
# against that torch without build isolation, so pip does not fetch a second copy of torch. The
# clean venv gets torch from pip's cache. Extra CMake settings go through STX_WHEEL_ARGS, e.g.
# STX_WHEEL_ARGS="-Ccmake.define.STX_WITH_CUDA=OFF" for a CPU-only wheel (the default here is the
# normal build's AUTO). The wheel links the system's HDF5, OpenSlide, libpng/jpeg/tiff at run time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STX_VENV:-$ROOT/.venv}"
DIST="${STX_WHEEL_DIR:-$ROOT/dist}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/stx-wheel-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

say() { printf '[wheel] %s\n' "$*"; }
die() { printf '[wheel] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -x "$VENV/bin/python" ]] || die "no project venv at $VENV (run scripts/setup.sh or set STX_VENV)"
launcher=()
command -v ccache >/dev/null && launcher=(-Ccmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache
                                          -Ccmake.define.CMAKE_CUDA_COMPILER_LAUNCHER=ccache)

say "pip wheel . -> $DIST (CMake build in build/wheel)"
rm -f "$DIST"/stx-*.whl
# shellcheck disable=SC2086  # STX_WHEEL_ARGS is a list of pip -C options
"$VENV/bin/python" -m pip wheel -q --no-build-isolation --no-deps -w "$DIST" "$ROOT" \
  -Cbuild-dir=build/wheel "${launcher[@]}" ${STX_WHEEL_ARGS:-}
wheel=("$DIST"/stx-*.whl)
[[ -f "${wheel[0]}" ]] || die "pip wheel produced no stx wheel in $DIST"
say "built ${wheel[0]} ($(du -h "${wheel[0]}" | cut -f1))"

say "clean venv $WORK/venv: pip install the wheel and its declared dependencies"
"$VENV/bin/python" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q "${wheel[0]}"

say "smoke test (outside the checkout, so the installed package is the one imported)"
cd "$WORK"
env -u PYTHONPATH -u STX_BUILD_DIR "$WORK/venv/bin/python" - <<'PY'
import torch

import stx

assert stx.__file__.startswith(__import__("sys").prefix), f"stx imported from {stx.__file__}"
dense = torch.ones(1, 2, 16, 16)
out, coverage = torch.ops.stx.spot_pool(dense, torch.tensor([[0.0, 8.0, 8.0]]), torch.tensor([2.0]), "disk", "sum", 0.5)
assert coverage.item() == 13.0 and out[0, 0].item() == 13.0, (out, coverage)  # 13 pixel centres within 2 px
print("spot_pool OK:", out.tolist())

import gymnasium as gym
import numpy as np

env = gym.make("stx/SpotSampling-v0", synthetic=dict(num_spots=60), budget_ratio=0.2)
obs, info = env.reset(seed=0)
action = int(np.flatnonzero(obs["action_mask"])[0])
obs, reward, terminated, truncated, info = env.step(action)
assert obs["sampled"][action] == 1 and np.isfinite(reward), (obs["sampled"][action], reward)
print("env step OK: reward", reward)
PY
say "OK: the wheel installs into a clean venv and runs"
