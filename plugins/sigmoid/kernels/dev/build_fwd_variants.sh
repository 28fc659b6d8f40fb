#!/usr/bin/env bash
# Prepares the objects dev/device_run_fwd.sh links on the device, on the development machine (no GPU
# needed): common/*.o (every library source but forward_sm90.cu, sm_90a + sm_80), fwd_NAME.o per
# NAME=SOURCE (a build of the wgmma forward: the tree's forward_sm90.cu, a dev/ variant, or a file
# extracted from an older commit), and the sanitize driver, with dev/build.sh's flags.
# Usage: build_fwd_variants.sh OUT_DIR NAME=SOURCE...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/.."
out="$1"
shift
mkdir -p "$out/common"
flags=(-O3 -std=c++17 -Xcompiler -fPIC,-Wall,-Werror -Werror all-warnings -I"$src" -I"$src/../../../kernels")
both=(-gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=sm_80)
for f in status forward_api forward backward backward_fused decode; do
  [ -f "$out/common/$f.o" ] || nvcc "${flags[@]}" "${both[@]}" -c "$src/$f.cu" -o "$out/common/$f.o"
done
for spec in "$@"; do
  nvcc "${flags[@]}" "${both[@]}" -c "${spec#*=}" -o "$out/fwd_${spec%%=*}.o"
done
nvcc -shared "$out"/common/*.o "$out/fwd_${1%%=*}.o" -o "$out/libattnzoo_sigmoid.so"
nvcc "${flags[@]}" -gencode=arch=compute_90a,code=sm_90a "$here/sanitize.cu" -L"$out" -lattnzoo_sigmoid \
  -Xlinker -rpath,'$ORIGIN' -o "$out/sanitize"
rm "$out/libattnzoo_sigmoid.so"
