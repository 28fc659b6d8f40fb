#!/usr/bin/env bash
# One device call for the backward (nvidia-h100-x1): builds the library and tile variants of the
# single pass (flags per variant as arguments, e.g. "-DSIG_FUSED_BQ_D64=64"), runs the sanitizer driver
# under memcheck and racecheck, the correctness grids (uniform and varlen, every backward mode) and the
# backward timing of every build against SDPA-flash in the same process. Logs in $OUT, a summary on stdout.
set -uo pipefail
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1
main=/tmp/sig-main
SIG_BUILD=$main bash build.sh || exit 1
libs=("$main/libattnzoo_sigmoid.so")
i=0
for flags in "$@"; do
  i=$((i + 1))
  # shellcheck disable=SC2086
  bash build_variant.sh "$main" "/tmp/sig-variant$i" $flags || exit 1
  libs+=("/tmp/sig-variant$i/libattnzoo_sigmoid.so")
  echo "variant $i: $flags"
done
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
for tool in memcheck racecheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 9 "$main/sanitize" >"$OUT/sanitize-$tool.log" 2>&1
  echo "compute-sanitizer $tool rc=$?"
  tail -2 "$OUT/sanitize-$tool.log"
done
python3 harness.py check "${libs[0]}" >"$OUT/check.log" 2>&1
echo "check rc=$?"
grep -v '^ok' "$OUT/check.log" | tail -40
python3 harness.py check_varlen "${libs[0]}" >"$OUT/check_varlen.log" 2>&1
echo "check_varlen rc=$?"
grep -v '^ok' "$OUT/check_varlen.log" | tail -40
python3 harness.py variants "${libs[@]}" 2>&1 | tee "$OUT/variants.log" | tail -24
