"""FlashSigmoid decoding (one new token against a KV cache) against PyTorch SDPA, in one run, on a
CUDA machine with PyTorch and Triton:

    plugins/sigmoid/kernels/dev/build.sh
    python3 bench/flash_sigmoid_decode.py [--no-tiled] [LIB] [OUTDIR] [NAME=LIB ...]

LIB defaults to plugins/sigmoid/kernels/dev/build/libattnzoo_sigmoid.so, OUTDIR to bench/out. Writes
decode.json and decode_table.md there (results: bench/flash_sigmoid_decode.md). Each NAME=LIB is a
build variant of the library (e.g. decode.cu compiled with other split or tile choices) whose decode with
ALiBi is timed on every shape too, in the same process, and tabled against LIB (variants.md).
--no-tiled leaves out the tiled forward's column (its kernel does not change with decode.cu).

Shapes: gala-1B's attention (32 heads, 32 KV heads, d 64, ALiBi, b = −ln 4096;
plugins/sigmoid/configs/gala_sigmoid_1b.json) and a GQA one (32 heads over 8 KV heads, d 128), bf16,
batch 1/4/16/64 × context 4k/8k/16k/32k. The cache is [B, Hkv, L, d] (the mixer's layout), q [B, H, 1, d].
Timed: ours through the strided entry point (it picks the decode kernel) with and without ALiBi;
the tiled forward of before (`attnzoo_sigmoid_forward`, kernel only, on [B, L, Hkv, d] copies made
beforehand); SDPA's default choice and its flash backend (no ALiBi, softmax). Bytes model: K and V
read once, 2·B·Hkv·L·d·2 bytes (q, o and the partial sums are < 0.1 % of it); GB/s = that / time.
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F
import triton.testing
from torch.nn.attention import SDPBackend, sdpa_kernel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "plugins", "sigmoid", "kernels", "dev"))

import harness  # noqa: E402

HBM_PEAK_GBS = 3350.0  # H100 SXM's HBM3 specification


def timed(fn):
    # do_bench clears the L2 before each call, so small caches are read from HBM too
    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def run(lib, outdir, variants, tiled):
    rows = []
    for name, heads, kv_heads, d in (("gala-1B", 32, 32, 64), ("GQA 32/8", 32, 8, 128)):
        for batch in (1, 4, 16, 64):
            for context in (4096, 8192, 16384, 32768):
                torch.manual_seed(batch + context)
                q = torch.randn(batch, heads, 1, d, device="cuda", dtype=torch.bfloat16)
                k = torch.randn(batch, kv_heads, context, d, device="cuda", dtype=torch.bfloat16)
                v = torch.randn(batch, kv_heads, context, d, device="cuda", dtype=torch.bfloat16)
                o = torch.empty_like(q)
                slopes = harness.alibi_slopes(heads).cuda()
                scale, bias = 1.0 / math.sqrt(d), -math.log(4096)
                views = [t.transpose(1, 2) for t in (q, k, v, o)]
                row = {"shape": name, "heads": heads, "kv_heads": kv_heads, "d": d, "batch": batch, "context": context}
                if not rows:  # the first timing in a process reads high (run 7: 81.5 µs for 28.8): discarded
                    for each in (lib, *variants.values()):
                        timed(lambda: each.forward_strided(*views, scale, bias, True, slopes))
                row["ours_alibi"] = timed(lambda: lib.forward_strided(*views, scale, bias, True, slopes))
                row["ours"] = timed(lambda: lib.forward_strided(*views, scale, bias, True))
                for vname, vlib in variants.items():
                    row[f"variant {vname}"] = timed(lambda: vlib.forward_strided(*views, scale, bias, True, slopes))
                if tiled:
                    qt, kt, vt = (t.transpose(1, 2).contiguous() for t in (q, k, v))
                    ot = torch.empty_like(qt)
                    row["tiled"] = timed(lambda: lib.forward(qt, kt, vt, ot, scale, bias, True))
                    del qt, kt, vt, ot
                gqa = heads != kv_heads
                row["sdpa_default"] = timed(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa))
                try:
                    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                        row["sdpa_flash"] = timed(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa))
                except RuntimeError as e:
                    print(f"flash unavailable for {name}: {str(e)[:120]}")
                bytes_kv = 2 * batch * kv_heads * context * d * 2
                for key in ("ours_alibi", "ours", "tiled", "sdpa_default", "sdpa_flash"):
                    if key in row:
                        row[f"{key}_gbs"] = bytes_kv / row[key] / 1e6
                        row[f"{key}_tokens_per_s"] = batch / row[key] * 1e3
                rows.append(row)
                print(json.dumps(row), flush=True)
                del q, k, v, o, views
                torch.cuda.empty_cache()
    with open(os.path.join(outdir, "decode.json"), "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}, f, indent=1)
    lines = [
        "| shape | B | L | ours µs (ALiBi) | ours µs | tiled µs | SDPA default µs | SDPA flash µs | ours tokens/s "
        "| speed-up vs default | speed-up vs flash | ours GB/s | % of HBM peak |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        g = lambda key: r.get(key, float("nan"))
        lines.append(
            f"| {r['shape']} | {r['batch']} | {r['context'] // 1024}k | {1e3 * g('ours_alibi'):.1f} | {1e3 * g('ours'):.1f} "
            f"| {1e3 * g('tiled'):.1f} | {1e3 * g('sdpa_default'):.1f} | {1e3 * g('sdpa_flash'):.1f} "
            f"| {g('ours_alibi_tokens_per_s'):.0f} | {g('sdpa_default') / g('ours_alibi'):.2f} "
            f"| {g('sdpa_flash') / g('ours_alibi'):.2f} | {g('ours_alibi_gbs'):.0f} "
            f"| {100 * g('ours_alibi_gbs') / HBM_PEAK_GBS:.0f} % |")
    table = "\n".join(lines)
    with open(os.path.join(outdir, "decode_table.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    if variants:
        write_variants(rows, list(variants), outdir)


def write_variants(rows, names, outdir):
    """µs of LIB and of each variant (ALiBi), % of HBM peak, and each variant's time / LIB's."""
    lines = ["| shape | B | L | LIB µs (% peak) | " + " | ".join(f"{n} µs (% peak, × LIB time)" for n in names) + " |",
             "| --- | --- | --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for r in rows:
        bytes_kv = 2 * r["batch"] * r["kv_heads"] * r["context"] * r["d"] * 2
        cell = lambda us: f"{1e3 * us:.1f} ({100 * bytes_kv / us / 1e6 / HBM_PEAK_GBS:.0f} %"
        cells = [cell(r[f"variant {n}"]) + f", {r[f'variant {n}'] / r['ours_alibi']:.2f})" for n in names]
        lines.append(f"| {r['shape']} | {r['batch']} | {r['context'] // 1024}k | {cell(r['ours_alibi'])}) | "
                     + " | ".join(cells) + " |")
    table = "\n".join(lines)
    with open(os.path.join(outdir, "variants.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--no-tiled"]
    lib = args[0] if len(args) > 0 else os.path.join(ROOT, "plugins/sigmoid/kernels/dev/build/libattnzoo_sigmoid.so")
    out = args[1] if len(args) > 1 else os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    variants = {name: harness.Library(path) for name, path in (a.split("=", 1) for a in args[2:])}
    run(harness.Library(lib), out, variants, "--no-tiled" not in sys.argv)
