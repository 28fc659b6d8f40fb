#!/usr/bin/env bash
# One GPU-machine call that verifies and measures the whole tree: builds every kernel library,
# runs tests/gpu under Deno, the FlashSigmoid strided/varlen check grids and sanitizers, and the
# whole-model benchmark against PyTorch eager in the same run. Run from the repository root after
# `../shared/tools/device-pack` (carry .device); logs go to $OUT (or ./bench/out), a summary to stdout.
set -uo pipefail
export PYTHONUNBUFFERED=1
out="${OUT:-bench/out}"
mkdir -p "$out"
source .device/enter.sh
step() { echo "== $1 ($(date +%T))"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
step "build every kernel library"
SIG_BUILD=$PWD/build_sig bash plugins/sigmoid/kernels/dev/build.sh >"$out/sigmoid_dev_build.log" 2>&1 &
deno run -A --no-check kernels/build.ts --out build >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
wait
export ATTNZOO_LIB_DIR=$PWD/build
step "tests/gpu (Deno)"
deno test -A --no-check tests/gpu/ >"$out/tests_gpu.log" 2>&1
echo "tests/gpu rc=$?"
grep -E "FAILED|^error|passed|failed" "$out/tests_gpu.log" | tail -8
step "FlashSigmoid sanitizers and check grids"
for tool in memcheck racecheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 9 build_sig/sanitize >>"$out/sigmoid_sanitize.log" 2>&1
  echo "compute-sanitizer $tool rc=$?"
done
for grid in check_strided check_varlen; do
  python3 plugins/sigmoid/kernels/dev/harness.py "$grid" build/libattnzoo_sigmoid.so >"$out/sigmoid_$grid.log" 2>&1
  echo "$grid rc=$?"
  tail -4 "$out/sigmoid_$grid.log"
done
step "FlashSigmoid decode benchmark"
python3 bench/flash_sigmoid_decode.py build/libattnzoo_sigmoid.so "$out" >"$out/decode_bench.log" 2>&1
echo "decode bench rc=$?"
step "whole models vs PyTorch eager (same run)"
python3 bench/models_torch.py >"$out/torch.jsonl" 2>"$out/torch.err"
deno run -A --no-check bench/models.ts "$out/torch.jsonl" 2>&1 | tee "$out/models.log" | grep -v "^  "
step done
