"""PyTorch eager side of bench/generate.ts: plain PyTorch models of gala_softmax_1b and
gala_sigmoid_1b's shape and math (llama style with hybrid-norm: RMSNorm, fused qkv, ALiBi,
SwiGLU; softmax through F.scaled_dot_product_attention with the ALiBi bias as its mask, sigmoid
attention written out with QK-RMSNorm and the score bias -ln 4096), bf16, random weights, with a
preallocated KV cache, continuing a 512-token prompt by 128 tokens at batch 1 and 8, greedy
(argmax) and sampled (temperature 0.8, top-k 50, top-p 0.9) on the GPU. Same figures as
generate.ts, one JSON line each.

    python3 bench/generate_torch.py
"""
import json
import math
import time

import torch
from torch import nn
from torch.nn import functional as F

DEV, DTYPE = "cuda", torch.bfloat16
VOCAB, DIM, DEPTH, HEADS, HIDDEN = 32768, 2048, 24, 32, 5632
PROMPT, NEW, TIMED = 512, 128, 3


def alibi_slopes(n):
    def power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + alibi_slopes(2 * closest)[0::2][: n - closest]


class Attention(nn.Module):
    def __init__(self, sigmoid):
        super().__init__()
        self.sigmoid, self.d = sigmoid, DIM // HEADS
        self.qkv = nn.Linear(DIM, 3 * DIM, bias=False)
        self.proj = nn.Linear(DIM, DIM, bias=False)
        if sigmoid:
            self.q_norm, self.k_norm = nn.RMSNorm(self.d, eps=1e-6), nn.RMSNorm(self.d, eps=1e-6)
        self.register_buffer("slopes", torch.tensor(alibi_slopes(HEADS), dtype=torch.float32)[:, None, None])

    def forward(self, x, cache, length):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, HEADS, self.d).permute(2, 0, 3, 1, 4)
        if self.sigmoid:
            q, k = self.q_norm(q), self.k_norm(k)
        k_cache, v_cache = cache
        k_cache[:, :, length : length + n] = k
        v_cache[:, :, length : length + n] = v
        keys, values = k_cache[:, :, : length + n], v_cache[:, :, : length + n]
        qpos = torch.arange(length, length + n, device=x.device)[:, None]
        kpos = torch.arange(length + n, device=x.device)[None, :]
        dist = (qpos - kpos).float()
        bias = -self.slopes * dist.abs()
        bias = bias.masked_fill(dist < 0, float("-inf")).to(x.dtype)
        if self.sigmoid:
            scores = (q @ keys.transpose(-1, -2)) * self.d**-0.5 - math.log(4096) + bias
            o = torch.sigmoid(scores) @ values
        else:
            o = F.scaled_dot_product_attention(q, keys, values, attn_mask=bias[None])
        return self.proj(o.transpose(1, 2).reshape(b, n, DIM))


class Block(nn.Module):
    def __init__(self, sigmoid):
        super().__init__()
        self.attn = Attention(sigmoid)
        self.norms = nn.ModuleList(nn.RMSNorm(DIM, eps=1e-6) for _ in range(4))
        self.gate = nn.Linear(DIM, HIDDEN, bias=False)
        self.up = nn.Linear(DIM, HIDDEN, bias=False)
        self.down = nn.Linear(HIDDEN, DIM, bias=False)

    def forward(self, x, cache, length):
        x = x + self.norms[1](self.attn(self.norms[0](x), cache, length))
        h = self.norms[2](x)
        return x + self.norms[3](self.down(F.silu(self.gate(h)) * self.up(h)))


class Lm(nn.Module):
    def __init__(self, sigmoid):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.blocks = nn.ModuleList(Block(sigmoid) for _ in range(DEPTH))
        self.norm = nn.RMSNorm(DIM, eps=1e-6)
        self.head = nn.Linear(DIM, VOCAB, bias=False)

    def last_logits(self, ids, caches, length):
        x = self.embed(ids)
        for block, cache in zip(self.blocks, caches):
            x = block(x, cache, length)
        return self.head(self.norm(x[:, -1]))


def choose(logits, sampled, generator):
    if not sampled:
        return logits.argmax(-1)
    top, index = torch.topk(logits.float() / 0.8, 50, dim=-1)
    probs = top.softmax(-1)
    keep = probs.cumsum(-1) - probs < 0.9
    probs = probs * keep
    pick = torch.multinomial(probs / probs.sum(-1, keepdim=True), 1, generator=generator)
    return index.gather(-1, pick)[:, 0]


@torch.inference_mode()
def generate(model, ids, new, sampled):
    b = ids.shape[0]
    shape = (b, HEADS, PROMPT + NEW, DIM // HEADS)
    caches = [(torch.empty(shape, device=DEV, dtype=DTYPE), torch.empty(shape, device=DEV, dtype=DTYPE)) for _ in range(DEPTH)]
    generator = torch.Generator(device=DEV).manual_seed(1)
    length, tokens = 0, ids
    out = []
    for _ in range(new):
        token = choose(model.last_logits(tokens, caches, length), sampled, generator)
        length += tokens.shape[1]
        out.append(token.tolist())  # the ids reach the host every step, as in attnzoo
        tokens = token[:, None]
    return out


def timed(model, ids, new, sampled):
    times = []
    for _ in range(TIMED):
        torch.cuda.synchronize()
        start = time.perf_counter()
        generate(model, ids, new, sampled)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1000


def main():
    for name, sigmoid in (("gala_softmax_1b", False), ("gala_sigmoid_1b", True)):
        model = Lm(sigmoid).to(DEV, DTYPE).eval()
        for batch in (1, 8):
            ids = ((torch.arange(PROMPT, device=DEV)[None] * 7919 + torch.arange(batch, device=DEV)[:, None] * 31) % VOCAB)
            for mode in ("greedy", "sampled"):
                sampled = mode == "sampled"
                generate(model, ids, 4, sampled)
                prefill = timed(model, ids, 1, sampled)
                whole = timed(model, ids, NEW, sampled)
                print(json.dumps({
                    "side": "torch", "model": name, "batch": batch, "mode": mode,
                    "prefillMs": round(prefill, 1), "generateMs": round(whole, 1),
                    "decodeTokensPerS": round(batch * (NEW - 1) / ((whole - prefill) / 1000)),
                }), flush=True)
        del model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
