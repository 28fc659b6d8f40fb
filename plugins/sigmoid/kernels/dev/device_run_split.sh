#!/usr/bin/env bash
# One device call (nvidia-h100-x1) for the decode split rule, the TypeScript varlen API and the
# per-mixer device ALiBi slopes; run from the repository root with .device (Deno) linked.
#  1. builds every kernel library (kernels/build.ts; decode.cu with run 7's split rule) and, at the
#     same time, decode.cu under the rounds and run-5 rules and with 16-key tiles at d 128, each
#     linked with the same other objects;
#  2. times the decode grid with every build in one process (bench/flash_sigmoid_decode.py);
#  3. then, concurrently: tests/gpu (Deno), harness check_strided (default and 16-key builds) and
#     check_varlen, compute-sanitizer memcheck + racecheck of the default and 16-key builds.
# Logs go to $OUT, a summary to stdout.
set -uo pipefail
export PYTHONUNBUFFERED=1
source .device/enter.sh
dev=plugins/sigmoid/kernels/dev
start=$SECONDS
step() { echo "== $1 (+$((SECONDS - start)) s)"; }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
flags=(-O3 -std=c++17 -Xcompiler -fPIC,-Wall,-Werror -Werror all-warnings -gencode=arch=compute_90a,code=sm_90a
  -gencode=arch=compute_80,code=sm_80 -Ikernels)
# the default build (LIB in the tables) has run 7's rule and 32-key tiles
declare -A variants=(
  [rounds]="-DSIG_DECODE_SPLIT_RULE=2"
  [run5]="-DSIG_DECODE_SPLIT_RULE=0"
  [rounds_bn16]="-DSIG_DECODE_SPLIT_RULE=2 -DSIG_DECODE_BN_D128=16"
  [run5_bn16]="-DSIG_DECODE_SPLIT_RULE=0 -DSIG_DECODE_BN_D128=16"
  [run7_bn16]="-DSIG_DECODE_BN_D128=16"
)

step "build"
deno run -A --no-check kernels/build.ts --out build >/tmp/build.log 2>&1 &
full=$!
for name in "${!variants[@]}"; do
  mkdir -p "variants/$name"
  # shellcheck disable=SC2086
  nvcc "${flags[@]}" ${variants[$name]} -c plugins/sigmoid/kernels/decode.cu -o "variants/$name/decode.o" \
    >"variants/$name/nvcc.log" 2>&1 &
done
nvcc "${flags[@]}" -c $dev/sanitize.cu -o /tmp/sanitize.o &
wait "$full" || { echo "kernel build failed"; tail -30 /tmp/build.log; exit 1; }
wait
others=$(ls build/obj/sigmoid/*.o | grep -v '/decode\.o$')
libs=()
for name in rounds run5 rounds_bn16 run5_bn16 run7_bn16; do
  # shellcheck disable=SC2086
  nvcc -shared $others "variants/$name/decode.o" -o "variants/$name/libattnzoo_sigmoid.so" || {
    cat "variants/$name/nvcc.log"
    exit 1
  }
  libs+=("$name=variants/$name/libattnzoo_sigmoid.so")
done
for dir in build variants/rounds_bn16; do
  nvcc /tmp/sanitize.o -L"$dir" -lattnzoo_sigmoid -Xlinker -rpath,'$ORIGIN' -o "$dir/sanitize" || exit 1
done
export ATTNZOO_LIB_DIR=$PWD/build

step "decode grid, every build in one process"
timeout 120 python3 bench/flash_sigmoid_decode.py --no-tiled build/libattnzoo_sigmoid.so "$OUT" "${libs[@]}" \
  >"$OUT/decode_bench.log" 2>&1
echo "decode bench rc=$?"
sed -n '/^| shape | B | L | LIB/,$p' "$OUT/decode_bench.log"

step "checks (concurrent)"
left=$((285 - (SECONDS - start)))
((left < 30)) && left=30 # timeout 0 would mean no limit
(timeout "$left" deno test -A --no-check tests/gpu/ >"$OUT/tests_gpu.log" 2>&1
  echo "tests/gpu rc=$?" >>/tmp/rc) &
(for lib in build variants/rounds_bn16; do
  echo "### $lib" >>"$OUT/checks.log"
  timeout "$left" python3 $dev/harness.py check_strided "$lib/libattnzoo_sigmoid.so" >>"$OUT/checks.log" 2>&1
  echo "check_strided $lib rc=$?" >>/tmp/rc
done) &
(timeout "$left" python3 $dev/harness.py check_varlen build/libattnzoo_sigmoid.so >"$OUT/varlen.log" 2>&1
  echo "check_varlen rc=$?" >>/tmp/rc) &
(for dir in build variants/rounds_bn16; do
  for tool in memcheck racecheck; do
    echo "### $dir $tool" >>"$OUT/sanitize.log"
    timeout "$left" compute-sanitizer --tool "$tool" --error-exitcode 9 "$dir/sanitize" >>"$OUT/sanitize.log" 2>&1
    echo "compute-sanitizer $dir $tool rc=$?" >>/tmp/rc
  done
done) &
wait
cat /tmp/rc
grep -E "passed|failed" "$OUT/tests_gpu.log" | tail -3
grep -E "FAILED|^error" "$OUT/tests_gpu.log" | head -10
grep -E "cases passed|^FAIL|^###" "$OUT/checks.log" "$OUT/varlen.log" | head -10
grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^###" "$OUT/sanitize.log"
step "done"
