#!/usr/bin/env bash
# One GPU-machine call that verifies and measures the whole tree: builds every kernel library, runs
# tests/gpu under Deno, the FlashSigmoid and lightning check grids and sanitizers, the FlashSigmoid
# forward/backward benchmark against SDPA (bench/flash_sigmoid.md), the lightning kernel benchmark and
# the whole-model benchmark against PyTorch eager, each against its PyTorch peer in the same run. Run
# from the repository root after `../shared/tools/device-pack` (carry .device/deno.xz, .device/enter.sh
# and .device/node_modules); a summary to stdout, and in $OUT (or ./bench/out) the FlashSigmoid
# benchmark's bench.json and chart, the models log and every log packed in suite_logs.tgz (the device
# tool returns 8 files at most). About 8 minutes.
set -uo pipefail
export PYTHONUNBUFFERED=1
results="${OUT:-bench/out}"
out=$(mktemp -d)
mkdir -p "$results"
source .device/enter.sh
step() { echo "== $1 ($(date +%T))"; }
sigmoid=plugins/sigmoid/kernels/dev
lightning=plugins/lightning/kernels/dev
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
step "build every kernel library (and the sanitizer drivers)"
SIG_BUILD=$PWD/build_sig bash $sigmoid/build.sh >"$out/dev_build.log" 2>&1 &
LIGHTNING_BUILD=$PWD/build_lightning bash $lightning/build.sh >>"$out/dev_build.log" 2>&1 &
deno run -A --no-check kernels/build.ts --out build >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
wait
export ATTNZOO_LIB_DIR=$PWD/build
step "tests/gpu (Deno)"
deno test -A --no-check tests/gpu/ >"$out/tests_gpu.log" 2>&1
echo "tests/gpu rc=$?"
grep -E "FAILED|^error|passed|failed" "$out/tests_gpu.log" | tail -8
step "sanitizers (FlashSigmoid, lightning) and check grids"
for driver in build_sig/sanitize build_lightning/sanitize; do
  for tool in memcheck racecheck; do
    compute-sanitizer --tool "$tool" --error-exitcode 9 "$driver" >>"$out/sanitize.log" 2>&1
    echo "compute-sanitizer $tool $driver rc=$?"
  done
done
for grid in check check_strided check_varlen; do
  python3 $sigmoid/harness.py "$grid" build/libattnzoo_sigmoid.so >"$out/sigmoid_$grid.log" 2>&1
  echo "sigmoid $grid rc=$? $(grep -E 'cases passed' "$out/sigmoid_$grid.log")"
done
python3 $lightning/harness.py check build_lightning/libattnzoo_lightning.so >"$out/lightning_check.log" 2>&1
echo "lightning check rc=$? $(grep -E 'passed' "$out/lightning_check.log" | tail -1)"
step "FlashSigmoid forward/backward vs SDPA flash and cuDNN"
python3 bench/flash_sigmoid.py build/libattnzoo_sigmoid.so "$out" >"$out/flash_sigmoid.log" 2>&1
echo "flash_sigmoid bench rc=$?"
sed -n '/^bf16 8192/,$p' "$out/flash_sigmoid.log"
step "lightning kernel vs PyTorch"
python3 $lightning/harness.py bench build_lightning/libattnzoo_lightning.so >"$out/lightning_bench.log" 2>&1
echo "lightning bench rc=$?"
tail -12 "$out/lightning_bench.log"
step "whole models vs PyTorch eager (same run)"
python3 bench/models_torch.py >"$out/torch.jsonl" 2>"$out/torch.err"
deno run -A --no-check bench/models.ts "$out/torch.jsonl" 2>&1 | tee "$out/models.log" | grep -v "^  "
cp "$out/bench.json" "$out/flash_sigmoid.svg" "$out/models.log" "$results/" 2>/dev/null
tar czf "$results/suite_logs.tgz" -C "$out" .
step done
