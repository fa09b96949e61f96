#!/usr/bin/env bash
# PanSeg Workstation developer bootstrap for a fresh Debian 12 / Ubuntu machine.
#
#   installer/setup.sh          install missing packages, build, generate the demo study, open it
#   installer/setup.sh test     install missing packages, build, run the whole test suite (ctest)
#   installer/setup.sh build    install missing packages and build only
#   installer/setup.sh sanitize the sanitizer run alone (ASan + UBSan unit tests, build-asan)
#   installer/setup.sh torch    only the helpers against $PANSEG_TORCH_DIR (see below)
#   installer/setup.sh install-torch
#                               copy those helpers to /usr/local/lib/panseg/torch-worker (for the .deb)
#
# Environment: BUILD_DIR (default ./build), JOBS (default: number of cores),
#              PANSEG_DATA (demo output, default ~/.local/share/panseg),
#              PANSEG_TORCH_DIR (another LibTorch, e.g. a CUDA one: the unpacked official zip or
#                a PyTorch installation's torch/share/cmake; docs/gpu.md). When set, panseg-worker
#                and panseg-train are also built against it, standalone from models/, in
#                $BUILD_DIR/torch-worker (TORCH_BUILD_DIR), which $BUILD_DIR/app/panseg prefers;
#                the main build keeps Debian's CPU LibTorch and the GUI never loads LibTorch.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="${1:-start}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
JOBS="${JOBS:-$(nproc)}"

# The proven Debian bookworm set (../shared/docs/stack.md) plus build helpers.
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config dpkg-dev file
  qt6-base-dev libqt6opengl6-dev qt6-charts-dev libqt6sql6-sqlite qt6-qpa-plugins
  libvtk9-dev libinsighttoolkit5-dev libgdcm-tools libtorch-dev
  libboost-math-dev zlib1g-dev dcmtk libdcmtk-dev
  xvfb xauth libgl1-mesa-dri clang-format
  libxlsxwriter-dev poppler-utils
  libqt6sql6-psql libpq-dev postgresql
  orthanc orthanc-dicomweb
)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#PACKAGES[@]} packages present"
    return
  fi
  log "installing ${#missing[@]} packages: ${missing[*]}"
  local SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1 CCACHE_COMPILERCHECK=content
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPANSEG_WERROR=ON
  fi
  log "building with $JOBS jobs in $BUILD_DIR"
  cmake --build "$BUILD_DIR" -j "$JOBS"
  command -v ccache >/dev/null && ccache -s 2>/dev/null | grep -E "Hits|hit rate" | head -2 || true
}

# panseg-worker and panseg-train against $PANSEG_TORCH_DIR: models/ configured standalone (with ITK,
# so the worker can read images) in $TORCH_BUILD_DIR. `panseg doctor` then names them and their CUDA.
TORCH_BUILD_DIR="${TORCH_BUILD_DIR:-$BUILD_DIR/torch-worker}"
build_torch_helpers() {
  [ -n "${PANSEG_TORCH_DIR:-}" ] || { log "PANSEG_TORCH_DIR is not set (docs/gpu.md)"; exit 2; }
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1 CCACHE_COMPILERCHECK=content
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  log "configuring panseg-worker and panseg-train against $PANSEG_TORCH_DIR in $TORCH_BUILD_DIR"
  cmake -S "$ROOT/models" -B "$TORCH_BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DPANSEG_TORCH_DIR="$PANSEG_TORCH_DIR" -DPANSEG_WITH_ITK=ON -DPANSEG_SHARED_DIR="$ROOT/../shared"
  cmake --build "$TORCH_BUILD_DIR" -j "$JOBS" --target panseg-worker panseg-train
  log "the LibTorch helpers' report:"
  "$TORCH_BUILD_DIR/panseg-worker" doctor --passes 1 || true
}

install_torch_helpers() {
  local dest="${PANSEG_TORCH_HELPERS_PREFIX:-/usr/local/lib/panseg/torch-worker}"
  for t in panseg-worker panseg-train; do
    [ -x "$TORCH_BUILD_DIR/$t" ] || { log "$TORCH_BUILD_DIR/$t is missing: run PANSEG_TORCH_DIR=... installer/setup.sh torch"; exit 1; }
  done
  local SUDO=""
  if ! mkdir -p "$dest" 2>/dev/null || [ ! -w "$dest" ]; then SUDO="sudo"; $SUDO mkdir -p "$dest"; fi
  # The executables keep their RPATH to $PANSEG_TORCH_DIR/lib: leave that LibTorch where it is.
  $SUDO install -m 0755 "$TORCH_BUILD_DIR/panseg-worker" "$TORCH_BUILD_DIR/panseg-train" "$dest/"
  log "installed to $dest; panseg (the .deb's too) now uses them: check with 'panseg doctor'"
}

# The format check: C++ lines added or changed since FORMAT_BASE follow .clang-format
# (git clang-format, which looks at changed lines only). The tree before FORMAT_BASE was not
# reformatted wholesale: that would change every file and rebuild everything from an empty
# compiler cache in CI. To format a change: git add it, then git clang-format FORMAT_BASE
# (--diff shows what it would change).
FORMAT_BASE=c26af65f493d8b8c12f169cb616f230557bbc98e
format_check() {
  cd "$ROOT"
  if ! git rev-parse -q --verify "${FORMAT_BASE}^{commit}" >/dev/null 2>&1; then
    log "format check skipped: this clone lacks the baseline commit $FORMAT_BASE (shallow clone?)"
    return 0
  fi
  if ! git clang-format -h >/dev/null 2>&1 || ! command -v clang-format >/dev/null; then
    log "format check failed: git clang-format does not run here (package clang-format)"
    exit 1
  fi
  local out status=0
  out=$(git clang-format --binary clang-format --diff "$FORMAT_BASE" -- '*.cpp' '*.h' 2>&1) || status=$?
  # git clang-format --diff exits 1 when it prints a diff; anything else is its own failure.
  if [ "$status" -gt 1 ]; then
    printf '%s\n' "$out"
    log "format check failed: git clang-format stopped with status $status (above)"
    exit 1
  fi
  if [ -n "$out" ] && ! grep -qE '^(no modified files to format|clang-format did not modify any files)$' <<<"$out"; then
    printf '%s\n' "$out"
    log "format check failed: C++ lines changed since $FORMAT_BASE do not follow .clang-format (above);"
    log "  to fix: git add the change, then run git clang-format $FORMAT_BASE"
    exit 1
  fi
  log "format check: C++ changes since ${FORMAT_BASE:0:10} follow .clang-format"
}

# The sanitizer run (CMakePresets.json "asan"): the unit tests of core, io and database and the
# malformed-file corpus, built with AddressSanitizer + UndefinedBehaviorSanitizer (no LibTorch),
# in build-asan. Any report fails the run. SANITIZE=0 skips it.
sanitizer_run() {
  [ "${SANITIZE:-1}" = 0 ] && { log "sanitizer run skipped (SANITIZE=0)"; return; }
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1 CCACHE_COMPILERCHECK=content
  local ASAN_DIR="${ASAN_BUILD_DIR:-$ROOT/build-asan}"
  if [ ! -f "$ASAN_DIR/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPANSEG_WERROR=ON \
      -DPANSEG_WITH_TORCH=OFF -DPANSEG_SANITIZE=address,undefined
  fi
  log "sanitizer run: building the unit tests with ASan + UBSan in $ASAN_DIR"
  cmake --build "$ASAN_DIR" -j "$JOBS" --target panseg_sanitizer_tests
  log "sanitizer run: running them"
  (cd "$ASAN_DIR" && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j "$JOBS" --timeout 900 -L sanitizer)
}

case "$MODE" in
  start)
    install_packages
    build
    if [ -n "${PANSEG_TORCH_DIR:-}" ]; then build_torch_helpers; fi
    DATA="${PANSEG_DATA:-$HOME/.local/share/panseg}/demo"
    log "generating the synthetic demo study in $DATA"
    "$BUILD_DIR/app/panseg" demo --out "$DATA"
    # The demo series also go into the study database (duplicates are recognised on later runs),
    # so the Study dock lists them and Segmentation > Predict stores AI mask versions.
    "$BUILD_DIR/app/panseg" import "$DATA" --center demo || log "could not add the demo study to the database"
    log "starting the workstation"
    exec "$BUILD_DIR/app/panseg" "$DATA/ct.nii.gz" "$DATA/ct_pancreas.nii.gz"
    ;;
  build)
    install_packages
    build
    if [ -n "${PANSEG_TORCH_DIR:-}" ]; then build_torch_helpers; fi
    ;;
  torch)
    install_packages
    build_torch_helpers
    ;;
  install-torch)
    install_torch_helpers
    ;;
  test)
    install_packages
    format_check
    build
    if [ -n "${PANSEG_TORCH_DIR:-}" ]; then build_torch_helpers; fi
    # The sanitizer run first, so that the whole suite's summary is the last line printed.
    sanitizer_run
    log "running the test suite"
    cd "$BUILD_DIR"
    ctest --output-on-failure -j "$JOBS" --timeout 1500
    ;;
  sanitize)
    install_packages
    sanitizer_run
    ;;
  *)
    echo "usage: installer/setup.sh [start|test|build|sanitize|torch|install-torch]" >&2
    exit 2
    ;;
esac
