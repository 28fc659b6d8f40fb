#!/usr/bin/env bash
# One device call (nvidia-h100-x1) comparing builds of the wgmma forward and validating the faster one.
# PREBUILT holds objects compiled on the development machine with dev/build.sh's flags: common/*.o
# (every source but forward_sm90.cu), fwd_NAME.o per build, and the sanitize driver. Each NAME is
# linked into its own libattnzoo_sigmoid.so; CANDIDATES get compute-sanitizer memcheck + racecheck and
# check_strided; then harness.py fwd_variants times every build's wgmma export (DIAGNOSTICS only timed:
# builds that drop part of the work), with the first candidate's mma.sync export and SDPA flash / cuDNN
# in the same process; of the candidates that pass the forward grid, the one with the best geometric mean
# over cuDNN (N ≥ 2048, the shapes the automatic choice sends to wgmma) gets the full grid (`check`) and
# the benchmark, and its SASS of the bf16 d 128 kernel is kept. Logs in $OUT.
# Usage: device_run_fwd.sh PREBUILT CANDIDATE... [-- DIAGNOSTIC...]
set -uo pipefail
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1
prebuilt="$1"
shift
candidates=() diagnostics=()
while [ $# -gt 0 ]; do
  [ "$1" = "--" ] && { shift; diagnostics=("$@"); break; }
  candidates+=("$1")
  shift
done
work=$(mktemp -d)
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader
for name in "${candidates[@]}" "${diagnostics[@]}"; do
  mkdir -p "$work/$name"
  nvcc -shared "$prebuilt"/common/*.o "$prebuilt/fwd_$name.o" -o "$work/$name/libattnzoo_sigmoid.so" || echo "link $name failed"
  cp "$prebuilt/sanitize" "$work/$name/"
done
pids=()
for name in "${candidates[@]}"; do
  for tool in memcheck racecheck; do
    timeout 120 compute-sanitizer --tool "$tool" --error-exitcode 9 "$work/$name/sanitize" >"$work/san_${name}_$tool.log" 2>&1 &
    pids+=("$!:${name}_$tool")
  done
done
for name in "${candidates[@]}"; do
  timeout 60 python3 harness.py check_strided "$work/$name/libattnzoo_sigmoid.so" >"$work/strided_$name.log" 2>&1
  echo "check_strided $name rc=$? $(tail -1 "$work/strided_$name.log")"
  { echo "== $name"; cat "$work/strided_$name.log"; } >>"$OUT/strided.log"
done
for entry in "${pids[@]}"; do
  wait "${entry%%:*}"
  log="$work/san_${entry#*:}.log"
  echo "sanitizer ${entry#*:} rc=$? $(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' "$log" | tail -1)"
  { echo "== ${entry#*:}"; cat "$log"; } >>"$OUT/sanitize.log"
done
specs=()
for name in "${candidates[@]}"; do specs+=("$work/$name/libattnzoo_sigmoid.so:attnzoo_sigmoid_forward_sm90"); done
for name in "${diagnostics[@]}"; do specs+=("time:$work/$name/libattnzoo_sigmoid.so:attnzoo_sigmoid_forward_sm90"); done
specs+=("time:$work/${candidates[0]}/libattnzoo_sigmoid.so:attnzoo_sigmoid_forward_mma")
timeout 130 python3 harness.py fwd_variants "${specs[@]}" >"$OUT/fwd_variants.log" 2>&1
echo "fwd_variants rc=$? (builds: ${candidates[*]} | ${diagnostics[*]} | mma.sync of ${candidates[0]})"
grep -v '^bfloat16\|^float16' "$OUT/fwd_variants.log" | tail -24
best=$(python3 - "$OUT/fwd_variants.log" "${candidates[@]}" <<'PY'
import math, re, sys
log, names = sys.argv[1], sys.argv[2:]
sums, count, failed = [0.0] * len(names), 0, set()
for line in open(log):
    m = re.match(r"build (\d+): (\d+)/(\d+) forward cases passed", line)
    if m and m.group(2) != m.group(3):
        failed.add(int(m.group(1)))
    m = re.match(r"d\s*(\d+) (full|causal)\s+N\s*(\d+):.*?\|(.*)", line)
    if not m or int(m.group(3)) < 2048 or (m.group(1) == "64" and m.group(2) == "full"):
        continue
    ratios = [float(x) for x in re.findall(r"x([0-9.]+)", m.group(4))][: len(names)]
    sums = [s + math.log(r) for s, r in zip(sums, ratios)]
    count += 1
passing = [i for i in range(len(names)) if i not in failed] or [0]
print(names[max(passing, key=lambda i: sums[i])] if count else names[passing[0]])
for i, (n, s) in enumerate(zip(names, sums)):
    state = "FAILED the forward grid" if i in failed else "passed"
    print(f"{n}: geometric mean over cuDNN {math.exp(s / max(count, 1)):.3f} on {count} shapes, {state}", file=sys.stderr)
PY
)
echo "best candidate: $best"
lib="$work/$best/libattnzoo_sigmoid.so"
timeout 80 python3 harness.py check "$lib" >"$OUT/check.log" 2>&1
echo "check $best rc=$? $(grep 'cases passed' "$OUT/check.log")"
grep -A12 '^worst ratio' "$OUT/check.log" | grep ' o ' 
timeout 110 python3 harness.py bench "$lib" "$OUT" >"$OUT/bench.log" 2>&1
echo "bench $best rc=$?"
grep -v '^{' "$OUT/bench.log" | tail -22
cuobjdump -sass -fun '_ZN13flash_sigmoid19forward_sm90_kernelI13__nv_bfloat16Li128ELb0ELb0EEEvNS_7ProblemEPKT_S5_S5_PS3_' \
  "$lib" >"$OUT/sass_bf16_d128.txt" 2>&1
echo "sass lines $(wc -l <"$OUT/sass_bf16_d128.txt")"
