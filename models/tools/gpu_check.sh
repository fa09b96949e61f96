#!/usr/bin/env bash
# One-command GPU check (issue 19): on a bare machine with only CMake, a C++ compiler and a LibTorch
# (no Qt, ITK, VTK or apt), build models/ standalone, run the parity fixtures and the benchmarks on
# one device, and write one JSON of figures naming the device. Also runs with --device cpu.
#
#   models/tools/gpu_check.sh [--torch DIR] [--device cuda|cuda:N|cpu] [--quick] [--out FILE.json]
#                             [--build-dir DIR | --prebuilt DIR] [--shared DIR] [--jobs N] [--reps N]
#                             [--with-case]
#
#   --torch DIR   the LibTorch: unpacked official zip, a PyTorch install's torch/share/cmake, or a
#                 folder with TorchConfig.cmake (default: $PANSEG_TORCH_DIR, then python3's torch,
#                 then /opt/libtorch, ~/libtorch, Debian's /usr/lib/*/cmake/Torch)
#   --device      default cuda; a CUDA device that cannot be used stops the check with the reason
#   --quick       fewer repetitions, the MR pipeline case only (CPU: minutes instead of an hour)
#   --reps N      forward-pass repetitions for the paper-size bench (default 20 on CUDA, 3 on CPU,
#                 1 with --quick on CPU), after warm-up
#   --with-case   also the whole-case benchmark (panseg-models bench-case, CT fixture, TTA; default
#                 on CUDA without --quick)
#   --prebuilt DIR  skip the build: use the tools already built in DIR (e.g. build/models of the full
#                 build, or an earlier --build-dir)
# ITK 5 + DCMTK (optional): when their CMake packages are found the pipeline check (reads NIfTI) and
# the worker are built too; without them the pipeline fixtures are reported as skipped.
# Exit status: 0 all checks passed, 1 a check failed, 2 usage / build / device error.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TORCH="${PANSEG_TORCH_DIR:-}"
DEVICE=cuda
QUICK=0
OUT=""
BUILD="$ROOT/build-gpu-check"
PREBUILT=0
SHARED="${PANSEG_SHARED_DIR:-$ROOT/../shared}"
JOBS="$(nproc 2>/dev/null || echo 2)"
REPS=""
WITH_CASE=""

usage() { sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --torch) TORCH="$2"; shift 2 ;;
    --device) DEVICE="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    --prebuilt) BUILD="$(cd "$2" && pwd)" || exit 2; PREBUILT=1; shift 2 ;;
    --shared) SHARED="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --with-case) WITH_CASE=1; shift ;;
    -h|--help) usage ;;
    *) echo "gpu_check: unknown option $1" >&2; usage ;;
  esac
done
case "$DEVICE" in cpu|cuda|cuda:[0-9]*) ;; *) echo "gpu_check: --device must be cpu, cuda or cuda:N" >&2; exit 2 ;; esac
CUDA=0; [ "$DEVICE" != cpu ] && CUDA=1
[ -z "$OUT" ] && OUT="$BUILD/gpu_check_${DEVICE//:/_}_$(date -u +%Y%m%dT%H%M%SZ).json"
[ -z "$REPS" ] && { if [ $CUDA = 1 ]; then REPS=20; elif [ $QUICK = 1 ]; then REPS=1; else REPS=3; fi; }
[ -z "$WITH_CASE" ] && { if [ $CUDA = 1 ] && [ $QUICK = 0 ]; then WITH_CASE=1; else WITH_CASE=0; fi; }
WARMUP=3; [ $CUDA = 0 ] && WARMUP=1

log() { printf '\033[1m[gpu_check]\033[0m %s\n' "$*" >&2; }
# JSON string (quotes, backslashes, control characters).
jstr() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\000-\037')"; }

if [ $PREBUILT = 1 ]; then
  WITH_ITK=OFF; [ -x "$BUILD/panseg_pipeline_check" ] && WITH_ITK=ON
  TORCH="prebuilt in $BUILD"
  BUILD_SECONDS=0
  for t in panseg-models panseg-train panseg_models_check panseg_nnunetv2_check; do
    [ -x "$BUILD/$t" ] || { log "$BUILD/$t is missing (build it, or drop --prebuilt)"; exit 2; }
  done
  log "prebuilt tools in $BUILD (ITK: $WITH_ITK); device $DEVICE; shared data $SHARED"
else
  # ---- the LibTorch -------------------------------------------------------------------------------
  find_torch() {
    [ -n "$TORCH" ] && return
    if command -v python3 >/dev/null; then
      TORCH="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)"
      [ -n "$TORCH" ] && return
    fi
    for d in /opt/libtorch "$HOME/libtorch" /usr/local/libtorch /usr/lib/*/cmake/Torch; do
      if [ -f "$d/share/cmake/Torch/TorchConfig.cmake" ] || [ -f "$d/TorchConfig.cmake" ]; then TORCH="$d"; return; fi
    done
  }
  find_torch
  [ -n "$TORCH" ] || { log "no LibTorch found: give --torch DIR (docs/gpu.md)"; exit 2; }
  log "LibTorch: $TORCH; device $DEVICE; build in $BUILD; shared data $SHARED"

  # ---- build ----------------------------------------------------------------------------------------
  WITH_ITK=OFF
  if ls /usr/lib/*/cmake/ITK-5*/ITKConfig.cmake /usr/local/lib/cmake/ITK-5*/ITKConfig.cmake >/dev/null 2>&1 &&
     ls /usr/lib/*/cmake/dcmtk/DCMTKConfig.cmake /usr/local/lib/cmake/dcmtk/DCMTKConfig.cmake >/dev/null 2>&1; then
    WITH_ITK=ON
  fi
  GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1 CCACHE_COMPILERCHECK=content
  T0=$(date +%s)
  mkdir -p "$BUILD"
  if ! cmake -S "$ROOT/models" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DPANSEG_TORCH_DIR="$TORCH" \
       -DPANSEG_WITH_ITK=$WITH_ITK -DPANSEG_SHARED_DIR="$SHARED" >"$BUILD/gpu_check_configure.log" 2>&1; then
    tail -20 "$BUILD/gpu_check_configure.log" >&2; log "configure failed (log: $BUILD/gpu_check_configure.log)"; exit 2
  fi
  TARGETS=(panseg-models panseg-train panseg_models_check panseg_nnunetv2_check)
  [ $WITH_ITK = ON ] && TARGETS+=(panseg-worker panseg_pipeline_check)
  log "building ${TARGETS[*]} (ITK: $WITH_ITK)"
  if ! cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}" >"$BUILD/gpu_check_build.log" 2>&1; then
    tail -30 "$BUILD/gpu_check_build.log" >&2; log "build failed (log: $BUILD/gpu_check_build.log)"; exit 2
  fi
  BUILD_SECONDS=$(( $(date +%s) - T0 ))
fi

LOGDIR="$BUILD/gpu_check_logs"; mkdir -p "$LOGDIR"

# ---- doctor: the device must be usable -----------------------------------------------------------
DOCTOR_JSON="$("$BUILD/panseg-train" doctor --json --device "$DEVICE" --passes 3 2>"$LOGDIR/doctor.err" | tail -1)"
DOCTOR_RC=$?
if [ $DOCTOR_RC -ne 0 ] || [ -z "$DOCTOR_JSON" ]; then
  log "the device cannot be used: $(tail -1 "$LOGDIR/doctor.err")"
  [ -n "$DOCTOR_JSON" ] && printf '{"device":%s,"usable":false,"error":%s,"doctor":%s}\n' "$(jstr "$DEVICE")" \
    "$(jstr "$(tail -1 "$LOGDIR/doctor.err")")" "$DOCTOR_JSON" >"$OUT" && log "wrote $OUT"
  exit 2
fi

# ---- checks ---------------------------------------------------------------------------------------
FIGURES=()   # "key value"
CHECKS=()    # JSON objects
FAILED=0
run_check() { # name, command...
  local name="$1"; shift
  local t0 rc
  t0=$(date +%s)
  log "check $name: $*"
  "$@" >"$LOGDIR/$name.log" 2>&1; rc=$?
  local secs=$(( $(date +%s) - t0 ))
  local status=passed
  if [ $rc -eq 77 ]; then status=skipped; elif [ $rc -ne 0 ]; then status=failed; FAILED=1; fi
  while read -r _ key value; do FIGURES+=("$key $value"); done < <(grep '^FIGURE ' "$LOGDIR/$name.log")
  CHECKS+=("{\"name\":$(jstr "$name"),\"status\":\"$status\",\"exit_code\":$rc,\"seconds\":$secs,\"log\":$(jstr "$LOGDIR/$name.log"),\"last_line\":$(jstr "$(grep -v '^FIGURE ' "$LOGDIR/$name.log" | tail -1)")}")
  log "  $status ($secs s)"
}

run_check parity "$BUILD/panseg_models_check" --skip-exit-code 77 --device "$DEVICE" parity
run_check nnunetv2_network "$BUILD/panseg_nnunetv2_check" --skip-exit-code 77 --device "$DEVICE" network
if [ $WITH_ITK = ON ]; then
  CASES=mr,ct; [ $QUICK = 1 ] && CASES=mr
  run_check pipeline "$BUILD/panseg_pipeline_check" --skip-exit-code 77 --device "$DEVICE" --cases "$CASES"
else
  CHECKS+=("{\"name\":\"pipeline\",\"status\":\"skipped\",\"reason\":\"built without ITK 5 + DCMTK (the pipeline check reads the fixtures' NIfTI inputs)\"}")
fi

# ---- benchmarks: paper-size plan, one patch ---------------------------------------------------
bench() { # name, extra args...
  local name="$1"; shift
  log "bench $name: paper plan, $REPS reps after $WARMUP warm-up"
  "$BUILD/panseg-models" bench --plan paper --device "$DEVICE" --reps "$REPS" --warmup "$WARMUP" "$@" \
    >"$LOGDIR/bench_$name.log" 2>&1 || { FAILED=1; log "  failed: $(tail -1 "$LOGDIR/bench_$name.log")"; return; }
  local line; line="$(grep '^median forward:' "$LOGDIR/bench_$name.log")"
  # "median forward: X ms per batch, Y ms per patch (min Z ms, N reps)"
  local median min
  median="$(sed -E 's/.* ([0-9.]+) ms per patch.*/\1/' <<<"$line")"
  min="$(sed -E 's/.*\(min ([0-9.]+) ms.*/\1/' <<<"$line")"
  FIGURES+=("bench_paper_${name}_median_ms $median" "bench_paper_${name}_min_ms $min" "bench_paper_${name}_reps $REPS")
  log "  median $median ms, min $min ms"
}
bench fp32
[ $CUDA = 1 ] && bench fp16_autocast --fp16
CASE_LINES=()
if [ "$WITH_CASE" = 1 ]; then
  log "bench whole case (CT fixture, TTA / no TTA / --fast)"
  if "$BUILD/panseg-models" bench-case --fixture-case "$SHARED/fixtures/pansegnet-pipeline/ct" \
       --fixture "$SHARED/fixtures/pansegnet-parity" --device "$DEVICE" >"$LOGDIR/bench_case.log" 2>&1; then
    while IFS= read -r l; do CASE_LINES+=("$(jstr "$l")"); done <"$LOGDIR/bench_case.log"
  else
    FAILED=1; log "  failed: $(tail -1 "$LOGDIR/bench_case.log")"
  fi
fi

# ---- the JSON -------------------------------------------------------------------------------------
{
  printf '{"device":%s,"quick":%s,"passed":%s,' "$(jstr "$DEVICE")" "$([ $QUICK = 1 ] && echo true || echo false)" \
    "$([ $FAILED = 0 ] && echo true || echo false)"
  printf '"date_utc":%s,"host":%s,"torch_dir":%s,"with_itk":%s,"build_seconds":%s,' \
    "$(jstr "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" "$(jstr "$(hostname 2>/dev/null || echo unknown)")" "$(jstr "$TORCH")" \
    "$([ $WITH_ITK = ON ] && echo true || echo false)" "$BUILD_SECONDS"
  printf '"paper_reference":{"forward_s_a6000":0.115,"target_h100_fp16_ms":10},'
  printf '"doctor":%s,"checks":[' "$DOCTOR_JSON"
  (IFS=,; printf '%s' "${CHECKS[*]}")
  printf '],"figures":{'
  first=1
  for f in "${FIGURES[@]}"; do
    k="${f%% *}"; v="${f#* }"
    [[ "$v" =~ ^-?[0-9.]+([eE][-+]?[0-9]+)?$ ]] || v="$(jstr "$v")"
    [ $first = 1 ] || printf ','
    first=0
    printf '%s:%s' "$(jstr "$k")" "$v"
  done
  printf '},"bench_case_lines":['
  (IFS=,; printf '%s' "${CASE_LINES[*]:-}")
  printf ']}\n'
} >"$OUT"
log "wrote $OUT"
[ $FAILED = 0 ] || { log "some checks FAILED (logs in $LOGDIR)"; exit 1; }
log "all checks passed on $DEVICE"
