"""PyTorch eager peer of bench/runtime_ops.ts: the same ops at the same DeiT-S batch-64 bf16 shapes,
each timed (wall clock, as there) as the median of rounds of back-to-back calls ended by a
synchronisation, with the same byte counts and HBM peak (3.35 TB/s). One JSON line per op. `python3 bench/runtime_ops_torch.py`."""
import json
import time

import torch

HBM_PEAK_GBS = 3350
CALLS = 50
ROUNDS = 7


def time_micros(op):
    for _ in range(5):
        op()
    torch.cuda.synchronize()
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            op()
        torch.cuda.synchronize()
        rounds.append((time.perf_counter() - start) * 1e6 / CALLS)
    return sorted(rounds)[ROUNDS // 2]


def main():
    torch.manual_seed(0)
    dev, dt = "cuda", torch.bfloat16
    b, n, c, h, d = 64, 197, 384, 6, 64
    tokens = torch.randn(b, n, c, device=dev, dtype=dt)
    other = torch.randn(b, n, c, device=dev, dtype=dt)
    bias = torch.randn(c, device=dev, dtype=dt)
    weight = torch.randn(c, device=dev, dtype=dt)
    hidden = torch.randn(b, n, 4 * c, device=dev, dtype=dt)
    scores = torch.randn(b, h, n, n, device=dev, dtype=dt)
    qkv = torch.randn(b, n, 3, h, d, device=dev, dtype=dt)
    heads = torch.randn(b, h, n, d, device=dev, dtype=dt)
    patches = torch.randn(b, c, 196, device=dev, dtype=dt)
    size = lambda *xs: sum(x.numel() * 2 for x in xs)
    cases = [
        ("add [64,197,384] + same", lambda: tokens + other, size(tokens, other, tokens)),
        ("add [64,197,384] + bias [384]", lambda: tokens + bias, size(tokens, tokens)),
        ("gelu [64,197,1536]", lambda: torch.nn.functional.gelu(hidden), size(hidden, hidden)),
        ("affine [64,6,197,197]", lambda: scores * 0.125, size(scores, scores)),
        ("softmax [64,6,197,197]", lambda: scores.softmax(-1), size(scores, scores)),
        ("layerNorm [64,197,384]", lambda: torch.nn.functional.layer_norm(tokens, (c,), weight, bias, 1e-6),
         size(tokens, tokens)),
        ("permute [64,197,3,6,64] → [3,64,6,197,64]", lambda: qkv.permute(2, 0, 3, 1, 4).contiguous(), size(qkv, qkv)),
        ("permute [64,6,197,64] → [64,197,6,64]", lambda: heads.permute(0, 2, 1, 3).contiguous(), size(heads, heads)),
        ("permute [64,384,196] → [64,196,384]", lambda: patches.permute(0, 2, 1).contiguous(),
         size(patches, patches)),
        ("narrow [64,197,3,6,64] dim 2", lambda: qkv.narrow(2, 1, 1).contiguous(), size(heads, heads)),
        ("concat 2 × [64,197,384] dim 2", lambda: torch.cat([tokens, other], 2), 2 * size(tokens, other)),
        ("cast [64,197,384] bf16 → f32", lambda: tokens.float(), size(tokens) * 3),
    ]
    for label, op, moved in cases:
        micros = time_micros(op)
        gbs = moved / micros / 1e3
        print(json.dumps({"op": label, "torch_us": round(micros, 1), "GBs": round(gbs),
                          "ofPeak": round(gbs / HBM_PEAK_GBS, 2)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
