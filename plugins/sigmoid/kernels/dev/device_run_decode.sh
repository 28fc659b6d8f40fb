#!/usr/bin/env bash
# One device call for the strided entry point and the decode kernel (nvidia-h100-x1), run from the
# repository root: build (dev/build.sh), compute-sanitizer memcheck + racecheck, the strided/decode
# check grid, the varlen check, the decode benchmark against SDPA, then (with Deno, after the whole
# kernel build) the GPU tests of the sigmoid mixer, and last the original check grid of the
# [B, N, H, d] exports.
# Logs go to $OUT; a short summary to stdout.
set -uo pipefail
export PYTHONUNBUFFERED=1
dev=plugins/sigmoid/kernels/dev
export SIG_BUILD=$PWD/build_sig
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
bash $dev/build.sh >"$OUT/build.log" 2>&1
echo "build rc=$?"
tail -3 "$OUT/build.log"
lib=$SIG_BUILD/libattnzoo_sigmoid.so
if [ -f .device/enter.sh ]; then
  (source .device/enter.sh && deno run -A --no-check kernels/build.ts --out build >/tmp/kernels_build.log 2>&1; echo "kernels build rc=$?" >>/tmp/kernels_build.log) &
  full_build=$!
fi
for tool in memcheck racecheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 9 "$SIG_BUILD/sanitize" >>"$OUT/sanitize.log" 2>&1
  echo "compute-sanitizer $tool rc=$?"
done
grep -E "ERROR SUMMARY|RACECHECK SUMMARY|decode/strided" "$OUT/sanitize.log" | sort | uniq -c | head
python3 $dev/harness.py check_strided "$lib" >"$OUT/check_strided.log" 2>&1
echo "check_strided rc=$?"
tail -9 "$OUT/check_strided.log"
python3 $dev/harness.py check_varlen "$lib" >"$OUT/check_varlen.log" 2>&1
echo "check_varlen rc=$?"
tail -5 "$OUT/check_varlen.log"
python3 bench/flash_sigmoid_decode.py "$lib" "$OUT" >"$OUT/decode_bench.log" 2>&1
echo "decode bench rc=$?"
grep "^|" "$OUT/decode_bench.log"
if [ -n "${full_build:-}" ]; then
  wait "$full_build"
  cat /tmp/kernels_build.log >>"$OUT/build.log"
  tail -1 /tmp/kernels_build.log
  (source .device/enter.sh && ATTNZOO_LIB_DIR=$PWD/build deno test -A --no-check tests/gpu/sigmoid_flash_test.ts 2>&1 | tail -12)
fi
python3 $dev/harness.py check "$lib" >"$OUT/check.log" 2>&1
echo "check (original exports) rc=$?"
tail -12 "$OUT/check.log"
