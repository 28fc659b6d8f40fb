#!/usr/bin/env bash
# Builds libattnzoo_lightning.so and the sanitizer driver into dev/build (or $LIGHTNING_BUILD) with
# the repository's kernel flags (sm_90a + sm_80, -O3, warnings as errors); extra nvcc flags from
# the arguments.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/.."
out="${LIGHTNING_BUILD:-$here/build}"
mkdir -p "$out"
flags=(-O3 -std=c++17 -Xcompiler -fPIC,-Wall,-Werror -Werror all-warnings
  -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=sm_80 -I"$src/../../../kernels" "$@")
for f in status forward step; do
  nvcc "${flags[@]}" -c "$src/$f.cu" -o "$out/$f.o" &
done
wait
nvcc -shared "$out"/status.o "$out"/forward.o "$out"/step.o -o "$out/libattnzoo_lightning.so"
nvcc "${flags[@]}" "$here/sanitize.cu" -L"$out" -lattnzoo_lightning -Xlinker -rpath,'$ORIGIN' -o "$out/sanitize"
