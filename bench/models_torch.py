"""PyTorch eager side of bench/models.ts: the same architectures, dtype (bf16), batch and input
sizes on the same GPU, random weights. DeiT-S and ViT-B/16 are timm's models, timed with timm's
default fused attention (F.scaled_dot_product_attention) and with it switched off (explicit
softmax(q k^T) v, the form attnzoo runs). The LM is a plain PyTorch TransNormerLLM of
transnormer_llm_1b's shape (SRMSNorm, qkvu projection, SiLU features, LRPE on layer 0, decayed
linear attention in its quadratic masked form, gate, SGLU), as the official code computes it
without its Triton kernel. Prints one JSON line per figure.

    python3 bench/models_torch.py
"""
import json
import math
import time

import timm
import torch
from torch import nn

WARMUP, TIMED = 2, 5
DEV, DTYPE = "cuda", torch.bfloat16


def bench(fn, items):
    times = []
    for i in range(WARMUP + TIMED):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        if i >= WARMUP:
            times.append(time.perf_counter() - start)
    s = sorted(times)[len(times) // 2]
    return round(items / s), round(s * 1000, 2)


def report(model, unit, throughput, ms):
    peak = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(json.dumps({"side": "torch", "model": model, "unit": unit, "throughput": throughput, "ms": ms, "peakGiB": peak}), flush=True)


def srms(x, eps=1e-6):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype)


def alibi_slopes(n):
    def power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + alibi_slopes(2 * closest)[0::2][: n - closest]


class TokenMixer(nn.Module):
    def __init__(self, dim, heads, layer, layers, n):
        super().__init__()
        self.heads, self.lrpe = heads, layer == 0
        self.qkvu_proj = nn.Linear(dim, 4 * dim, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)
        d = dim // heads
        rates = torch.tensor(alibi_slopes(heads)) * (1 - layer / (layers - 1) + 1e-5)
        idx = torch.arange(n)
        dist = (idx[:, None] - idx[None, :]).float()
        mask = torch.exp(-rates[:, None, None] * dist.clamp(min=0)) * (dist >= 0)
        self.register_buffer("decay", mask.to(DTYPE))
        if self.lrpe:
            theta = 10000 ** (-2 / dim * torch.arange(dim)).reshape(heads, 1, d)
            self.register_buffer("angle", (theta * idx[None, :, None]).to(DTYPE))

    def forward(self, x):
        b, n, c = x.shape
        q, k, v, u = self.qkvu_proj(x).chunk(4, dim=-1)
        split = lambda t: t.reshape(b, n, self.heads, -1).transpose(1, 2)
        q, k, v = split(nn.functional.silu(q)), split(nn.functional.silu(k)), split(v)
        if self.lrpe:
            a = self.angle[:, :n]
            q = torch.cat([q * torch.cos(a), q * torch.sin(a)], dim=-1)
            k = torch.cat([k * torch.cos(a), k * torch.sin(a)], dim=-1)
        o = ((q @ k.transpose(-1, -2)) * self.decay[:, :n, :n]) @ v
        o = o.transpose(1, 2).reshape(b, n, c)
        return self.out_proj(srms(o) * u)


class Sglu(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.l1 = nn.Linear(dim, hidden, bias=False)
        self.l2 = nn.Linear(dim, hidden, bias=False)
        self.l3 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.l3(self.l1(x) * self.l2(x))


class TransNormer(nn.Module):
    def __init__(self, vocab=64000, dim=2048, depth=16, heads=16, hidden=5632, n=2048):
        super().__init__()
        self.scale = math.sqrt(dim)
        self.embed = nn.Embedding(vocab, dim)
        self.mixers = nn.ModuleList(TokenMixer(dim, heads, i, depth, n) for i in range(depth))
        self.mlps = nn.ModuleList(Sglu(dim, hidden) for _ in range(depth))
        self.head = nn.Linear(dim, vocab, bias=False)

    def forward(self, ids):
        x = self.embed(ids) * self.scale
        for mixer, mlp in zip(self.mixers, self.mlps):
            x = x + mixer(srms(x))
            x = x + mlp(srms(x))
        return self.head(srms(x))


@torch.inference_mode()
def main():
    images = torch.randn(64, 3, 224, 224, device=DEV, dtype=DTYPE)
    for name in ["deit_small_patch16_224", "vit_base_patch16_224"]:
        model = timm.create_model(name, pretrained=False).to(DEV, DTYPE).eval()
        for fused in [False, True]:
            for block in model.blocks:
                block.attn.fused_attn = fused
            torch.cuda.reset_peak_memory_stats()
            report(f"{name} ({'sdpa' if fused else 'explicit softmax'})", "images/s", *bench(lambda: model(images), 64))
        del model
        torch.cuda.empty_cache()
    model = TransNormer().to(DEV, DTYPE).eval()
    ids = (torch.arange(2048, device=DEV) * 7919 % 64000)[None]
    torch.cuda.reset_peak_memory_stats()
    report("transnormer_llm_1b (quadratic masked)", "tokens/s", *bench(lambda: model(ids), 2048))


if __name__ == "__main__":
    main()
