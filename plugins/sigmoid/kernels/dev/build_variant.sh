#!/usr/bin/env bash
# Builds a tile variant of the single-pass backward: backward_fused.cu and backward_sm90.cu recompiled
# with the nvcc flags given (e.g. -DSIG_FUSED_BQ_D64=128) and linked with the
# other objects of a dev/build.sh output.
# Usage: build_variant.sh MAIN_BUILD_DIR OUT_DIR FLAGS...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/.."
main="$1"
out="$2"
shift 2
mkdir -p "$out"
for f in backward_fused backward_sm90; do
  nvcc -O3 -std=c++17 -Xcompiler -fPIC,-Wall,-Werror -Werror all-warnings -gencode=arch=compute_90a,code=sm_90a \
    -gencode=arch=compute_80,code=sm_80 -I"$src/../../../kernels" "$@" -c "$src/$f.cu" -o "$out/$f.o" &
done
wait
nvcc -shared "$main"/status.o "$main"/forward_api.o "$main"/forward.o "$main"/forward_sm90.o "$main"/backward.o \
  "$out/backward_fused.o" "$out/backward_sm90.o" "$main"/decode.o -o "$out/libattnzoo_sigmoid.so"
