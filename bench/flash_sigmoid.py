"""FlashSigmoid forward/backward TFLOP/s against PyTorch SDPA (flash, cuDNN) and a materialised
sigmoid attention, in one run, on a CUDA machine with PyTorch and Triton:

    plugins/sigmoid/kernels/dev/build.sh
    python3 bench/flash_sigmoid.py [LIB] [OUTDIR]

LIB defaults to plugins/sigmoid/kernels/dev/build/libattnzoo_sigmoid.so, OUTDIR to bench/out. Writes
bench.json and flash_sigmoid.svg there and prints the ratio table (results: bench/flash_sigmoid.md).
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "plugins", "sigmoid", "kernels", "dev"))

import harness  # noqa: E402

if __name__ == "__main__":
    lib = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "plugins/sigmoid/kernels/dev/build/libattnzoo_sigmoid.so")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    harness.bench(harness.Library(lib), out)
