#!/usr/bin/env bash
# One device call (nvidia-h100-x1): sanitizers on a small case, the correctness grid of the main build
# (and of other forward exports given as LIB:SYMBOL), the benchmark against SDPA, and tile variants.
# Logs go to $OUT; a short summary to stdout.
# Usage: device_run.sh MAIN_LIB [VARIANT_LIB...], each LIB a path to libattnzoo_sigmoid.so, optionally
# followed by :FORWARD_SYMBOL (harness.py).
set -uo pipefail
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1
main="$1"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
for tool in memcheck racecheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 9 "$(dirname "${main%%:*}")/sanitize" >"$OUT/sanitize.log.part" 2>&1
  echo "compute-sanitizer $tool rc=$?"
  tail -2 "$OUT/sanitize.log.part"
  cat "$OUT/sanitize.log.part" >>"$OUT/sanitize.log"
done
for build in "$@"; do
  case "$build" in
  *:*) ;;                                  # another forward export: checked too
  *) [ "$build" = "$main" ] || continue ;; # a backward tile variant: timed only until it is the default
  esac
  python3 harness.py check "$build" >"$OUT/check.log.part" 2>&1
  echo "check $build rc=$?"
  tail -22 "$OUT/check.log.part"
  { echo "== $build"; cat "$OUT/check.log.part"; } >>"$OUT/check.log"
done
python3 harness.py bench "$main" "$OUT" >"$OUT/bench.log" 2>&1
echo "bench rc=$?"
grep -v '^{' "$OUT/bench.log" | tail -24
rm -f "$OUT"/*.part
if [ $# -gt 1 ]; then
  python3 harness.py variants "$@" 2>&1 | tee "$OUT/variants.log" | tail -10
fi
