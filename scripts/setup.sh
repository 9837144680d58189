#!/usr/bin/env bash
# Idempotent set-up for stx: Debian build dependencies and the project venv (.venv) from
# requirements.txt. Works as root (no sudo needed) or as a user with sudo. Prints what it does
# and stops at the first failure with the reason.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STX_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
REQUIRED_TORCH="2.11.0"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Debian packages --------------------------------------------------------------------------
APT_PACKAGES=(build-essential cmake ninja-build ccache pkg-config git
              libhdf5-dev libopenslide-dev libpng-dev libturbojpeg0-dev libtiff-dev libgtest-dev python3-dev python3-venv
              zlib1g-dev nlohmann-json3-dev clang libclang-rt-14-dev)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "missing Debian packages: ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    die "need root or sudo to run: apt-get install -y ${missing[*]}"; fi
  say "installing with: ${SUDO:+$SUDO }apt-get install -y ${missing[*]}"
  $SUDO apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
else
  say "Debian packages present: ${APT_PACKAGES[*]}"
fi
command -v nvcc >/dev/null && say "nvcc found: CUDA kernels will be built ($(nvcc --version | tail -1))" \
  || say "nvcc not found: building CPU kernels only (install the CUDA toolkit for CUDA kernels)"

# --- Python venv ------------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "no '$PYTHON' interpreter; install python3 (apt-get install python3)"
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating venv $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
fi
stamp="$VENV/.stx-requirements.sha256"
want="$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  say "venv up to date with requirements.txt"
else
  say "installing requirements.txt into $VENV (pip keeps its cache; nothing already there is reinstalled)"
  "$VENV/bin/python" -m pip install -q --upgrade pip || die "pip upgrade failed"
  "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements.txt" || die "pip install -r requirements.txt failed"
  echo "$want" > "$stamp"
fi

# --- sanity: the torch we build against --------------------------------------------------------
have="$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null)" \
  || die "torch cannot be imported from $VENV"
[[ "$have" == "$REQUIRED_TORCH" ]] || die "venv has torch $have but stx is pinned to torch==$REQUIRED_TORCH; run: $VENV/bin/pip install torch==$REQUIRED_TORCH"
say "torch $have OK ($("$VENV/bin/python" -c 'import torch; print("CUDA", torch.version.cuda)'))"
