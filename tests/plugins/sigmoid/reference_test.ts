// Forward of the sigmoid reference against an independent naive formula, limits of b, causality,
// GQA ≡ MHA with repeated heads, ALiBi values by hand, f16/bf16, and bad input.
import { alibiSlopes } from "../../../core/alibi.ts";
import { ConfigError, DTypeError, ShapeError } from "../../../core/errors.ts";
import { randn } from "../../../core/random.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { sigmoidAttention, sigmoidAttentionBackward } from "../../../plugins/sigmoid/mod.ts";
import { assert, assertClose, assertEquals, assertRelativeError, assertThrows } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { flat, naiveSigmoid } from "./_naive.ts";

function qkv(B: number, H: number, Hkv: number, Nq: number, Nk: number, d: number, e = d, seed = 1) {
  return {
    q: randn([B, H, Nq, d], { seed }),
    k: randn([B, Hkv, Nk, d], { seed: seed + 1 }),
    v: randn([B, Hkv, Nk, e], { seed: seed + 2 }),
  };
}

const variants = [
  { name: "non-causal MHA", B: 2, H: 2, Hkv: 2, Nq: 5, Nk: 5, d: 4, causal: false },
  { name: "causal Nq < Nk GQA", B: 1, H: 4, Hkv: 2, Nq: 3, Nk: 6, d: 4, causal: true },
  { name: "causal Nq > Nk MQA", B: 2, H: 3, Hkv: 1, Nq: 6, Nk: 4, d: 3, causal: true },
  { name: "non-causal Nq ≠ Nk, e ≠ d", B: 1, H: 2, Hkv: 1, Nq: 4, Nk: 7, d: 4, e: 6, causal: false },
];

for (const c of variants) {
  for (const alibi of ["none", "head", "batch·head"] as const) {
    test(`sigmoid forward = naive formula: ${c.name}, ALiBi ${alibi}`, () => {
      const { q, k, v } = qkv(c.B, c.H, c.Hkv, c.Nq, c.Nk, c.d, c.e);
      const perHead = Array.from(alibiSlopes(c.H));
      const slopes = alibi === "none"
        ? undefined
        : alibi === "head"
        ? Array.from({ length: c.B }, () => perHead).flat()
        : Array.from({ length: c.B * c.H }, (_, i) => 0.05 + 0.1 * i);
      const alibiSlopesArg = alibi === "head" ? Float32Array.from(perHead) : slopes && Float32Array.from(slopes);
      const out = sigmoidAttention(q, k, v, { bias: -1.5, causal: c.causal, alibiSlopes: alibiSlopesArg });
      assertEquals(out.shape, [c.B, c.H, c.Nq, c.e ?? c.d]);
      const expected = flat(naiveSigmoid(q, k, v, { bias: -1.5, causal: c.causal, slopes }));
      assertClose(out.toFloat32Array(), expected, { rtol: 1e-5, atol: 1e-6 });
    });
  }
}

test("sigmoid forward: custom scale and QK-norm (rms, layer) match the naive formula", () => {
  const { q, k, v } = qkv(1, 4, 2, 5, 5, 4, 4, 7);
  const w = [1.2, 0.7, -0.4, 0.9];
  const wk = [0.8, 1.1, 0.5, -1.3];
  const bq = [0.1, -0.2, 0.3, 0];
  const rms = (weight: number[]) => (r: number[]) => {
    const inv = 1 / Math.sqrt(r.reduce((a, x) => a + x * x, 0) / r.length + 1e-6);
    return r.map((x, c) => x * inv * weight[c]);
  };
  const layer = (weight: number[], bias: number[]) => (r: number[]) => {
    const mu = r.reduce((a, x) => a + x, 0) / r.length;
    const inv = 1 / Math.sqrt(r.reduce((a, x) => a + (x - mu) ** 2, 0) / r.length + 1e-5);
    return r.map((x, c) => (x - mu) * inv * weight[c] + bias[c]);
  };
  const wT = tensor(w);
  const wkT = tensor(wk);
  const outRms = sigmoidAttention(q, k, v, {
    bias: -2,
    scale: 0.3,
    qkNorm: { kind: "rms", qWeight: wT, kWeight: wkT },
  });
  assertClose(
    outRms.toFloat32Array(),
    flat(naiveSigmoid(q, k, v, { bias: -2, scale: 0.3, normQ: rms(w), normK: rms(wk) })),
    { rtol: 1e-5, atol: 1e-6 },
  );
  const outLayer = sigmoidAttention(q, k, v, {
    bias: -2,
    causal: true,
    qkNorm: { kind: "layer", qWeight: wT, kWeight: wkT, qBias: tensor(bq) },
  });
  const zero = [0, 0, 0, 0];
  assertClose(
    outLayer.toFloat32Array(),
    flat(naiveSigmoid(q, k, v, { bias: -2, causal: true, normQ: layer(w, bq), normK: layer(wk, zero) })),
    { rtol: 1e-5, atol: 1e-6 },
  );
});

test("sigmoid: b → −∞ gives exactly 0, b → +∞ gives the plain sum of the visible values", () => {
  const { q, k, v } = qkv(1, 2, 2, 4, 4, 4);
  const zero = sigmoidAttention(q, k, v, { bias: -Infinity });
  assert(zero.toFloat32Array().every((x) => x === 0), "σ(−∞) must be exactly 0");
  const tiny = sigmoidAttention(q, k, v, { bias: -200 });
  assert(tiny.toFloat32Array().every((x) => Math.abs(x) < 1e-80 || x === 0), "b = −200 must vanish");
  const sum = sigmoidAttention(q, k, v, { bias: 60, causal: true });
  const va = v.toArray() as number[][][][];
  const expected: number[] = [];
  for (let h = 0; h < 2; h++) {
    for (let i = 0; i < 4; i++) {
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let j = 0; j <= i; j++) s += va[0][h][j][c];
        expected.push(s);
      }
    }
  }
  assertClose(sum.toFloat32Array(), expected, { rtol: 1e-6, atol: 1e-6 });
});

test("sigmoid ALiBi: full offset by hand (causal −slope·(i+Nk−Nq−j), non-causal −slope·|…|)", () => {
  // q = 0 removes the dot product, so each weight is σ(b − slope·distance) exactly.
  const q = tensor(new Float32Array(2), { shape: [1, 1, 2, 1] });
  const k = tensor([1, 1, 1, 1], { shape: [1, 1, 4, 1] });
  const v = tensor([1, 10, 100, 1000], { shape: [1, 1, 4, 1] });
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const slope = 0.5;
  const b = -1;
  // queries sit at key positions 2 and 3 (bottom-right alignment, Nk − Nq = 2)
  const causal = sigmoidAttention(q, k, v, { bias: b, causal: true, alibiSlopes: Float32Array.of(slope) });
  const expectCausal = [
    sig(b - 2 * slope) * 1 + sig(b - slope) * 10 + sig(b) * 100,
    sig(b - 3 * slope) * 1 + sig(b - 2 * slope) * 10 + sig(b - slope) * 100 + sig(b) * 1000,
  ];
  assertClose(causal.toFloat32Array(), expectCausal, { rtol: 1e-6 });
  const full = sigmoidAttention(q, k, v, { bias: b, alibiSlopes: Float32Array.of(slope) });
  const expectFull = [expectCausal[0] + sig(b - slope) * 1000, expectCausal[1]];
  assertClose(full.toFloat32Array(), expectFull, { rtol: 1e-6 });
});

test("sigmoid causal: changing tokens after t never changes outputs at or before t", () => {
  const N = 6;
  const { q, k, v } = qkv(1, 2, 1, N, N, 4, 4, 11);
  const slopes = Float32Array.of(0.3, 0.7);
  const base = sigmoidAttention(q, k, v, { bias: -1, causal: true, alibiSlopes: slopes }).toArray() as number[][][][];
  for (let t = 0; t < N - 1; t++) {
    const perturb = (x: Tensor, seed: number): Tensor => {
      const vals = x.toFloat32Array();
      const [, heads, n, d] = x.shape;
      const noise = randn([vals.length], { seed }).toFloat32Array();
      for (let h = 0; h < heads; h++) {
        for (let j = t + 1; j < n; j++) for (let c = 0; c < d; c++) vals[(h * n + j) * d + c] += noise[j * d + c];
      }
      return tensor(vals, { shape: x.shape });
    };
    const changed = sigmoidAttention(perturb(q, 40 + t), perturb(k, 50 + t), perturb(v, 60 + t), {
      bias: -1,
      causal: true,
      alibiSlopes: slopes,
    }).toArray() as number[][][][];
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i <= t; i++) assertEquals(changed[0][h][i], base[0][h][i], `head ${h} token ${i} after t=${t}`);
    }
    assert(JSON.stringify(changed[0][0][N - 1]) !== JSON.stringify(base[0][0][N - 1]), "later tokens must change");
  }
});

test("sigmoid GQA equals MHA with repeated k/v heads (forward and gradients)", () => {
  const { q, k, v } = qkv(2, 6, 2, 4, 5, 4, 4, 21);
  const repeat = (x: Tensor): Tensor => {
    const a = x.toArray() as number[][][][];
    return tensor(a.map((batch) => batch.flatMap((head) => [head, head, head])));
  };
  const opts = { bias: -0.5, causal: true, alibiSlopes: alibiSlopes(6).map((s) => s) as Float64Array };
  const gqa = sigmoidAttention(q, k, v, opts);
  const mha = sigmoidAttention(q, repeat(k), repeat(v), opts);
  assertClose(gqa.toFloat32Array(), mha.toFloat32Array(), { rtol: 1e-6, atol: 1e-7 });
  const dOut = randn(gqa.shape, { seed: 5 });
  const g = sigmoidAttentionBackward(q, k, v, dOut, opts);
  const m = sigmoidAttentionBackward(q, repeat(k), repeat(v), dOut, opts);
  assertClose(g.dq.toFloat32Array(), m.dq.toFloat32Array(), { rtol: 1e-5, atol: 1e-7 });
  // the gradient of a shared k/v head is the sum over its query group
  const sumGroups = (x: Tensor) => {
    const a = x.toArray() as number[][][][];
    return a.flatMap((batch) =>
      [0, 1].map((kv) =>
        batch[3 * kv].map((row, j) => row.map((_, c) => [0, 1, 2].reduce((s, r) => s + batch[3 * kv + r][j][c], 0)))
      )
    ).flat(2);
  };
  assertClose(g.dk.toFloat32Array(), sumGroups(m.dk), { rtol: 1e-5, atol: 1e-6 });
  assertClose(g.dv.toFloat32Array(), sumGroups(m.dv), { rtol: 1e-5, atol: 1e-6 });
});

for (const dtype of ["f16", "bf16"] as const) {
  test(`sigmoid ${dtype} inputs: ${dtype} output close to the f32 result on the same values`, () => {
    const { q, k, v } = qkv(1, 2, 2, 6, 6, 8, 8, 31);
    const cast = (x: Tensor) => tensor(x.toFloat32Array(), { shape: x.shape, dtype });
    const [qh, kh, vh] = [cast(q), cast(k), cast(v)];
    const out = sigmoidAttention(qh, kh, vh, { bias: -1, causal: true });
    assertEquals(out.dtype, dtype);
    // the reference on the rounded inputs, computed in f32
    const exact = sigmoidAttention(
      tensor(qh.toFloat32Array(), { shape: q.shape }),
      tensor(kh.toFloat32Array(), { shape: k.shape }),
      tensor(vh.toFloat32Array(), { shape: v.shape }),
      { bias: -1, causal: true },
    );
    assertRelativeError(out.toFloat32Array(), exact.toFloat32Array(), dtype === "f16" ? 1e-3 : 8e-3);
    const grads = sigmoidAttentionBackward(qh, kh, vh, cast(randn(out.shape, { seed: 2 })), { bias: -1 });
    assertEquals([grads.dq.dtype, grads.dk.dtype, grads.dv.dtype], [dtype, dtype, dtype]);
  });
}

test("sigmoid rejects bad input with typed errors naming the op and shapes", () => {
  const { q, k, v } = qkv(1, 4, 2, 3, 3, 4);
  const opts = { bias: -1 };
  assertThrows(
    () => sigmoidAttention(q, randn([1, 3, 3, 4]), randn([1, 3, 3, 4]), opts),
    ShapeError,
    "sigmoidAttention",
    "multiple",
    "[1, 3, 3, 4]",
  );
  assertThrows(() => sigmoidAttention(q, randn([1, 2, 3, 5]), v, opts), ShapeError, "head dim", "[1, 2, 3, 5]");
  assertThrows(() => sigmoidAttention(randn([1, 4, 0, 4]), k, v, opts), ShapeError, "> 0", "[1, 4, 0, 4]");
  assertThrows(() => sigmoidAttention(q, k, randn([1, 2, 4, 4]), opts), ShapeError, "same number of tokens");
  assertThrows(() => sigmoidAttention(q, k, randn([2, 2, 3, 4]), opts), ShapeError, "batch");
  assertThrows(() => sigmoidAttention(randn([4, 3, 4]), k, v, opts), ShapeError, "[B, H, N, d]");
  assertThrows(() => sigmoidAttention(q, randn([1, 2, 3, 4], { dtype: "f16" }), v, opts), DTypeError, "q f32, k f16");
  assertThrows(() => sigmoidAttention(q, k, v, { bias: NaN }), ConfigError, "bias");
  assertThrows(() => sigmoidAttention(q, k, v, { bias: 0, scale: -1 }), ConfigError, "scale");
  assertThrows(
    () => sigmoidAttention(q, k, v, { bias: 0, alibiSlopes: new Float32Array(3) }),
    ShapeError,
    "alibiSlopes",
    "4 (per head) or 4 (per batch·head)",
  );
  assertThrows(
    () =>
      sigmoidAttention(q, k, v, { bias: 0, qkNorm: { kind: "rms", qWeight: tensor([1, 1]), kWeight: tensor([1, 1]) } }),
    ShapeError,
    "qkNorm.qWeight",
    "[4]",
  );
  assertThrows(() => sigmoidAttentionBackward(q, k, v, randn([1, 4, 3, 5]), opts), ShapeError, "dOut", "[1, 4, 3, 4]");
});
