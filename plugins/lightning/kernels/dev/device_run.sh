#!/usr/bin/env bash
# One device call (nvidia-h100-x1), from the repository root with .device carried. Stages, all by
# default or those named as arguments (all of them take more than 300 s together):
#   kernel    this library and its sanitizer driver (dev/build.sh), the harness's correctness grid
#             (split and unsplit forward against float64), compute-sanitizer memcheck and racecheck
#             on the small driver, then on a quiet GPU the kernel benchmark (split vs one CTA per
#             slice vs PyTorch) and the GPU mixer test
#   models    bench/models.ts against bench/models_torch.py (same run)
#   generate  bench/generate.ts against bench/generate_torch.py (same run)
# kernels/build.ts builds the whole set in the background meanwhile. Logs go to $OUT (8 files at
# most), timestamps and a summary to stdout.
set -uo pipefail
export PYTHONUNBUFFERED=1
dev=plugins/lightning/kernels/dev
export LIGHTNING_BUILD=/tmp/lightning-build
lib=$LIGHTNING_BUILD/libattnzoo_lightning.so
stages="${*:-kernel models generate}"
has() { [[ " $stages " == *" $1 "* ]]; }
step() { echo "== $1 ($(date +%T))"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
step "builds"
(deno run -A --no-check kernels/build.ts --out build >/tmp/zoo_build.log 2>&1; echo "zoo build rc=$?" >>/tmp/zoo_build.log) &
zoo=$!
if has kernel; then
  $dev/build.sh >"$OUT/build.log" 2>&1
  echo "lib build rc=$?"
  step "check grid"
  python3 $dev/harness.py check "$lib" >"$OUT/check.log" 2>&1
  echo "check rc=$?"
  grep -E "FAIL|passed|Error|error" "$OUT/check.log" | tail -12
  step "sanitizers"
  for tool in memcheck racecheck; do
    compute-sanitizer --tool "$tool" --error-exitcode 9 "$LIGHTNING_BUILD/sanitize" >>"$OUT/sanitize.log" 2>&1
    echo "sanitize $tool rc=$?"
  done
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitize.log"
fi
wait $zoo
cat /tmp/zoo_build.log >>"$OUT/build.log"
tail -1 /tmp/zoo_build.log
export ATTNZOO_LIB_DIR=$PWD/build
if has kernel; then
  step "kernel bench"
  python3 $dev/harness.py bench "$lib" 2>&1 | tee "$OUT/bench.log"
  step "gpu test"
  deno test -A --no-check tests/gpu/lightning_mixer_test.ts >"$OUT/gputest.log" 2>&1
  echo "gpu test rc=$?"
  grep -E "passed|FAILED|rror" "$OUT/gputest.log" | tail -6
fi
if has models; then
  step "models"
  python3 bench/models_torch.py >"$OUT/models_torch.jsonl" 2>&1
  echo "torch rc=$?"
  deno run -A --no-check bench/models.ts "$OUT/models_torch.jsonl" >"$OUT/models.log" 2>&1
  echo "models rc=$?"
  grep -E "transnormer|ratio" "$OUT/models.log" | grep -v '^{' | tail -8
fi
if has generate; then
  step "generate"
  python3 bench/generate_torch.py 2>&1 | tee "$OUT/generate_torch.jsonl"
  deno run -A --no-check bench/generate.ts "$OUT/generate_torch.jsonl" 2>&1 | tee "$OUT/generate.log"
fi
step done
