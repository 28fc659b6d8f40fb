#!/usr/bin/env bash
# Builds libattnzoo_sigmoid.so and the sanitizer driver into dev/build with the repository's
# kernel flags (sm_90a + sm_80, -O3, warnings as errors); extra nvcc flags from the arguments,
# output folder from $SIG_BUILD.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/.."
out="${SIG_BUILD:-$here/build}"
mkdir -p "$out"
flags=(-O3 -std=c++17 -Xcompiler -fPIC,-Wall,-Werror -Werror all-warnings
  -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=sm_80 -I"$src/../../../kernels" "$@")
for f in status forward_api forward forward_sm90 backward backward_fused backward_sm90 decode; do
  nvcc "${flags[@]}" -c "$src/$f.cu" -o "$out/$f.o" &
done
wait
nvcc -shared "$out"/status.o "$out"/forward_api.o "$out"/forward.o "$out"/forward_sm90.o "$out"/backward.o \
  "$out"/backward_fused.o "$out"/backward_sm90.o "$out"/decode.o -o "$out/libattnzoo_sigmoid.so"
nvcc "${flags[@]}" "$here/sanitize.cu" -L"$out" -lattnzoo_sigmoid -Xlinker -rpath,'$ORIGIN' -o "$out/sanitize"
