#!/usr/bin/env bash
# One device call (nvidia-h100-x1), from the repository root with .device carried: builds this
# library (dev/build.sh) while kernels/build.ts builds the whole set; compute-sanitizer memcheck and
# racecheck on the small driver; the harness's correctness grid and kernel benchmark; the GPU mixer
# test; bench/models.ts against bench/models_torch.py. Logs go to $OUT (8 files); a summary to stdout.
set -uo pipefail
export PYTHONUNBUFFERED=1
dev=plugins/lightning/kernels/dev
export LIGHTNING_BUILD=/tmp/lightning-build
lib=$LIGHTNING_BUILD/libattnzoo_lightning.so
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
(deno run -A --no-check kernels/build.ts --out build >"$OUT/build.log" 2>&1; echo "zoo build rc=$?" >>"$OUT/build.log") &
zoo=$!
$dev/build.sh >"$OUT/lib.log" 2>&1
echo "lib build rc=$?"
for tool in memcheck racecheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 9 "$LIGHTNING_BUILD/sanitize" >>"$OUT/sanitize.log" 2>&1
  echo "sanitize $tool rc=$?"
done
tail -3 "$OUT/sanitize.log"
python3 $dev/harness.py check "$lib" >"$OUT/check.log" 2>&1
echo "check rc=$?"
grep -E "FAIL|passed|Error|error" "$OUT/check.log" | tail -12
wait $zoo
tail -1 "$OUT/build.log"
python3 $dev/harness.py bench "$lib" 2>&1 | tee "$OUT/bench.log"
export ATTNZOO_LIB_DIR=$PWD/build
deno test -A --no-check tests/gpu/lightning_mixer_test.ts >"$OUT/gputest.log" 2>&1
echo "gpu test rc=$?"
grep -E "passed|FAILED|rror" "$OUT/gputest.log" | tail -6
python3 bench/models_torch.py >"$OUT/torch.jsonl" 2>&1
echo "torch rc=$?"
deno run -A --no-check bench/models.ts "$OUT/torch.jsonl" >"$OUT/models.log" 2>&1
echo "models rc=$?"
grep -v '^{' "$OUT/models.log" | tail -14
