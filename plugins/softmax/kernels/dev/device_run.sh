#!/usr/bin/env bash
# One device call's kernel part: sanitizers on a small case, the correctness grid, the benchmark
# against SDPA. Logs go to $OUT; a short summary to stdout. Usage: device_run.sh LIB (the
# libattnzoo_softmax.so built by build.sh, its sanitize driver beside it).
set -uo pipefail
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1
lib="$1"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
for tool in memcheck racecheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 9 "$(dirname "$lib")/sanitize" >"$OUT/sanitize.log.part" 2>&1
  echo "compute-sanitizer $tool rc=$?"
  tail -2 "$OUT/sanitize.log.part"
  cat "$OUT/sanitize.log.part" >>"$OUT/sanitize.log"
done
rm -f "$OUT"/*.part
python3 harness.py check "$lib" >"$OUT/check.log" 2>&1
echo "check rc=$?"
tail -12 "$OUT/check.log"
python3 harness.py bench "$lib" "$OUT" >"$OUT/bench.log" 2>&1
echo "bench rc=$?"
grep -v '^{' "$OUT/bench.log" | tail -24
