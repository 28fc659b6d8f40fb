// core/nn attention: eagerAttention and the generic dot-product mixer against a deliberately naive
// multi-head attention in f64 (nested loops, k/v heads repeated, the whole score matrix); what the
// mixer hands its attention function; KV-cache decode ≡ full forward; parameters, cost and errors.
import { ShapeError } from "../../core/errors.ts";
import {
  type AttentionCall,
  type AttentionFunction,
  createDotProductMixer,
  dotProductMixerCost,
  type DotProductMixerOptions,
  eagerAttention,
  type HeadGeometry,
  type PackedAttentionFunction,
  type QkTransform,
} from "../../core/nn/mod.ts";
import { mul, sigmoid, softmax } from "../../core/ops.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { randn } from "../../core/random.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import { assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";

type Rows = number[][];

interface NaiveOptions {
  causal: boolean;
  queryOffset: number;
  scale?: number;
  offset?: (head: number, distance: number) => number;
  weights: "softmax" | "sigmoid";
}

/** One head: weights(scale·q kᵀ + offset, −∞ where hidden) v. */
function naiveHead(q: Rows, k: Rows, v: Rows, head: number, o: NaiveOptions): Rows {
  const scale = o.scale ?? 1 / Math.sqrt(q[0].length);
  return q.map((qi, i) => {
    const s = k.map((kj, j) => {
      const distance = o.queryOffset + i - j;
      if (o.causal && distance < 0) return -Infinity;
      return scale * qi.reduce((acc, x, c) => acc + x * kj[c], 0) + (o.offset?.(head, distance) ?? 0);
    });
    const max = Math.max(...s);
    const total = s.reduce((acc, x) => acc + Math.exp(x - max), 0);
    const p = s.map((x) => o.weights === "softmax" ? Math.exp(x - max) / total : 1 / (1 + Math.exp(-x)));
    return v[0].map((_, c) => p.reduce((acc, pj, j) => acc + pj * v[j][c], 0));
  });
}

/** [B][H][Nq][d] queries over [B][Hkv][Nk][·] keys/values, query head h on k/v head ⌊h·Hkv/H⌋. */
function naiveAttention(q: Rows[][], k: Rows[][], v: Rows[][], o: NaiveOptions): Rows[][] {
  return q.map((heads, b) =>
    heads.map((qh, h) => {
      const kv = Math.floor((h * k[b].length) / heads.length);
      return naiveHead(qh, k[b][kv], v[b][kv], h, o);
    })
  );
}

const nested = (t: Tensor): Rows[][] => t.toArray() as Rows[][];

test("eagerAttention = naive attention: GQA, causal with Nq < Nk (decode offset), score offsets, softmax", () => {
  const q = randn([2, 4, 3, 5], { seed: 1 });
  const k = randn([2, 2, 6, 5], { seed: 2 });
  const v = randn([2, 2, 6, 3], { seed: 3 });
  const offset = (head: number, distance: number) => -0.25 * (head + 1) * Math.abs(distance) + 0.5;
  const got = eagerAttention(q, k, v, {
    causal: true,
    queryOffset: 3,
    scoreOffset: offset,
    weights: (s) => softmax(s),
  });
  assertEquals(got.shape, [2, 4, 3, 3]);
  const expected = naiveAttention(nested(q), nested(k), nested(v), {
    causal: true,
    queryOffset: 3,
    offset,
    weights: "softmax",
  });
  assertClose(got.toFloat32Array(), expected.flat(3), { rtol: 1e-5, atol: 1e-6 });
});

test("eagerAttention with keyLength reads only the first keys of longer (capacity) k and v", () => {
  const q = randn([1, 2, 2, 4], { seed: 4 });
  const k = randn([1, 2, 7, 4], { seed: 5 });
  const v = randn([1, 2, 7, 3], { seed: 6 });
  const got = eagerAttention(q, k, v, { causal: false, queryOffset: 3, keyLength: 5, weights: (s) => softmax(s) });
  const expected = naiveAttention(
    nested(q),
    nested(k).map((b) => b.map((h) => h.slice(0, 5))),
    nested(v).map((b) => b.map((h) => h.slice(0, 5))),
    {
      causal: false,
      queryOffset: 3,
      weights: "softmax",
    },
  );
  assertClose(got.toFloat32Array(), expected.flat(3), { rtol: 1e-5, atol: 1e-6 });
});

test("eagerAttention = naive attention: MQA, sigmoid weights, custom scale, fully hidden keys weigh 0", () => {
  const q = randn([1, 3, 4, 2], { seed: 4 });
  const k = randn([1, 1, 4, 2], { seed: 5 });
  const v = randn([1, 1, 4, 2], { seed: 6 });
  const got = eagerAttention(q, k, v, { causal: true, queryOffset: 0, scale: 0.7, weights: sigmoid });
  const expected = naiveAttention(nested(q), nested(k), nested(v), {
    causal: true,
    queryOffset: 0,
    scale: 0.7,
    weights: "sigmoid",
  });
  assertClose(got.toFloat32Array(), expected.flat(3), { rtol: 1e-5, atol: 1e-6 });
  // query 0 sees key 0 only: its output is σ(s₀₀)·v₀ exactly, nothing leaks from hidden keys
  const s00 = 0.7 * (q.toFloat32Array()[0] * k.toFloat32Array()[0] + q.toFloat32Array()[1] * k.toFloat32Array()[1]);
  const v0 = v.toFloat32Array().slice(0, 2);
  assertClose(got.toFloat32Array().slice(0, 2), [...v0].map((x) => x / (1 + Math.exp(-s00))), { rtol: 1e-6 });
});

function spec(overrides: Partial<MixerSpec> = {}): MixerSpec {
  return {
    dim: 12,
    heads: 4,
    kvHeads: 2,
    causal: true,
    layer: 0,
    layers: 1,
    dtype: "f32",
    device: "cpu",
    seed: 7,
    ...overrides,
  };
}

/** Per-head gains on q and k, a stand-in for QK-norm with its own parameters. */
const gains: QkTransform = {
  parameters: ({ headDim }) => [
    { name: "q_gain.weight", shape: [headDim], init: "ones" },
    { name: "k_gain.weight", shape: [headDim], init: "ones" },
  ],
  apply: (x, role, parameter) => mul(x, parameter(`${role}_gain.weight`)),
};

/** Causal softmax attention that records what the mixer passes it. */
function recordingOptions(
  calls: { q: number[]; k: number[]; v: number[]; call: AttentionCall }[],
): DotProductMixerOptions {
  const attention: AttentionFunction = (q, k, v, call) => {
    calls.push({ q: q.shape.slice(), k: k.shape.slice(), v: v.shape.slice(), call });
    return eagerAttention(q, k, v, { ...call, weights: (s) => softmax(s) });
  };
  return { name: "test mixer", attention, qkTransform: gains };
}

function randomize(params: Map<string, Tensor>, seed: number): void {
  let s = seed;
  for (const [name, t] of params) params.set(name, randn(t.shape, { seed: s++, std: 0.4 }));
}

/** The whole mixer by hand: [q | k | v] rows of qkv, gains, naive causal softmax attention, proj. */
function naiveMixer(x: Tensor, p: Map<string, Tensor>, H: number, Hkv: number): number[] {
  const [B, N, C] = x.shape;
  const d = C / H;
  const xs = nested(x) as unknown as Rows[];
  const w = p.get("qkv.weight")!.toArray() as Rows;
  const bias = p.get("qkv.bias")!.toArray() as number[];
  const [qGain, kGain] = ["q_gain.weight", "k_gain.weight"].map((n) => p.get(n)!.toArray() as number[]);
  const row = (b: number, n: number, r: number) => bias[r] + xs[b][n].reduce((acc, xc, c) => acc + xc * w[r][c], 0);
  const heads = (start: number, count: number, gain?: number[]) =>
    xs.map((_, b) =>
      Array.from(
        { length: count },
        (_, h) =>
          Array.from(
            { length: N },
            (_, n) => Array.from({ length: d }, (_, c) => row(b, n, (start + h) * d + c) * (gain?.[c] ?? 1)),
          ),
      )
    );
  const o = naiveAttention(heads(0, H, qGain), heads(H, Hkv, kGain), heads(H + Hkv, Hkv), {
    causal: true,
    queryOffset: 0,
    weights: "softmax",
  });
  const pw = p.get("proj.weight")!.toArray() as Rows;
  const pb = p.get("proj.bias")!.toArray() as number[];
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        let s = pb[c];
        for (let h = 0; h < H; h++) for (let e = 0; e < d; e++) s += o[b][h][n][e] * pw[c][h * d + e];
        out.push(s);
      }
    }
  }
  return out;
}

test("dot-product mixer forward = the naive layer ([q | k | v] rows, GQA, q/k transform, proj)", () => {
  const calls: { q: number[]; k: number[]; v: number[]; call: AttentionCall }[] = [];
  const mixer = createDotProductMixer(spec({ qkvBias: true }), recordingOptions(calls));
  randomize(mixer.parameters, 20); // also checks that parameters are read live, not captured
  const x = randn([2, 5, 12], { seed: 8 });
  const y = mixer.forward(x);
  assertEquals(y.shape, [2, 5, 12]);
  assertClose(y.toFloat32Array(), naiveMixer(x, mixer.parameters, 4, 2), { rtol: 1e-4, atol: 1e-5 });
  assertEquals(calls, [{
    q: [2, 4, 5, 3],
    k: [2, 2, 5, 3],
    v: [2, 2, 5, 3],
    call: { causal: true, queryOffset: 0, keyLength: 5 },
  }]);
});

test("dot-product mixer decode in chunks of 2, 1, 2 tokens equals the full forward; offsets are the cache length, k/v its capacity", () => {
  const calls: { q: number[]; k: number[]; v: number[]; call: AttentionCall }[] = [];
  const mixer = createDotProductMixer(spec({ qkvBias: true }), recordingOptions(calls));
  randomize(mixer.parameters, 30);
  const x = randn([2, 5, 12], { seed: 9 });
  const full = nested(mixer.forward(x)) as unknown as Rows[];
  const xs = nested(x) as unknown as Rows[];
  using state = mixer.createState!(2);
  let start = 0;
  for (const length of [2, 1, 2]) {
    const chunk = tensor(xs.map((rows) => rows.slice(start, start + length)));
    const y = nested(mixer.step!(chunk, state)) as unknown as Rows[];
    const expected = full.map((rows) => rows.slice(start, start + length));
    assertClose(y.flat(2), expected.flat(2), { rtol: 1e-5, atol: 1e-6 }, `tokens ${start}..${start + length}`);
    start += length;
    assertEquals(state.length, start);
  }
  // [Nq, keys attended, query offset, cache capacity]: the capacity doubles and is written in place
  assertEquals(
    calls.slice(1).map((c) => [c.q[2], c.call.keyLength, c.call.queryOffset, c.k[2]]),
    [[2, 2, 0, 2], [1, 3, 2, 4], [2, 5, 3, 8]],
  );
});

test("dot-product mixer: parameters in order (qkv, transform, proj), cost counts them, errors name the op", () => {
  const options = recordingOptions([]);
  const mixer = createDotProductMixer(spec({ qkvBias: true }), options);
  assertEquals([...mixer.parameters].map(([name, t]) => [name, t.shape]), [
    ["qkv.weight", [24, 12]],
    ["qkv.bias", [24]],
    ["q_gain.weight", [3]],
    ["k_gain.weight", [3]],
    ["proj.weight", [12, 12]],
    ["proj.bias", [12]],
  ]);
  const cost = dotProductMixerCost(spec({ qkvBias: true }), options, 6);
  assertEquals(cost.params, [...mixer.parameters.values()].reduce((n, t) => n + t.size, 0));
  assertEquals(cost.flops, 2 * 6 * (24 + 12) * 12 + 4 * 4 * 21 * 3);
  assertEquals(dotProductMixerCost(spec({ causal: false }), { name: "m", attention: options.attention }, 6), {
    params: 24 * 12 + 12 * 12,
    flops: 2 * 6 * (24 + 12) * 12 + 4 * 4 * 36 * 3,
  });
  assertThrows(() => mixer.forward(randn([1, 3, 8])), ShapeError, "test mixer forward", "[1, 3, 8]");
  assertThrows(() => mixer.createState!(0), ShapeError, "test mixer createState");
  const other = createDotProductMixer(spec(), options);
  using foreign = other.createState!(1);
  assertThrows(() => mixer.step!(randn([1, 1, 12]), foreign), ShapeError, "test mixer step", "state");
  const bidirectional = createDotProductMixer(spec({ causal: false }), options);
  assertEquals([bidirectional.createState, bidirectional.step], [undefined, undefined]);
});

/**
 * Packed attention by hand from the documented layout: q head h at columns h·d of each token's
 * qkv row, k head g at (H + g)·d, v head g at (H + Hkv + g)·d; o token-major, head h at h·d.
 */
function naivePackedAttention(qkv: Tensor, geo: HeadGeometry, call: AttentionCall): Tensor {
  const rows = nested(qkv) as unknown as Rows[];
  const { heads: H, kvHeads: Hkv, headDim: d } = geo;
  const head = (b: number, first: number) => rows[b].map((token) => token.slice(first * d, (first + 1) * d));
  const q = rows.map((_, b) => Array.from({ length: H }, (_, h) => head(b, h)));
  const k = rows.map((_, b) => Array.from({ length: Hkv }, (_, g) => head(b, H + g)));
  const v = rows.map((_, b) => Array.from({ length: Hkv }, (_, g) => head(b, H + Hkv + g)));
  const o = naiveAttention(q, k, v, { causal: call.causal, queryOffset: call.queryOffset, weights: "softmax" });
  return tensor(o.map((perHead) => perHead[0].map((_, n) => perHead.flatMap((oh) => oh[n]))));
}

test("dot-product mixer: full forwards go through packedAttention (layout as documented), declines and decoding through attention", () => {
  const attentionCalls: { q: number[]; k: number[]; v: number[]; call: AttentionCall }[] = [];
  const { attention } = recordingOptions(attentionCalls);
  const packedCalls: { shape: number[]; geo: HeadGeometry; call: AttentionCall }[] = [];
  let decline = false;
  const packedAttention: PackedAttentionFunction = (qkv, geo, call) => {
    packedCalls.push({ shape: qkv.shape.slice(), geo, call });
    return decline ? undefined : naivePackedAttention(qkv, geo, call);
  };
  const packed = createDotProductMixer(spec({ qkvBias: true }), { name: "test mixer", attention, packedAttention });
  const plain = createDotProductMixer(spec({ qkvBias: true }), { name: "test mixer", attention });
  randomize(packed.parameters, 40);
  randomize(plain.parameters, 40);
  const x = randn([2, 5, 12], { seed: 10 });
  const expected = plain.forward(x).toFloat32Array();
  assertEquals(attentionCalls.length, 1);
  assertClose(packed.forward(x).toFloat32Array(), expected, { rtol: 1e-5, atol: 1e-6 }, "packed path");
  assertEquals(packedCalls, [{
    shape: [2, 5, 24],
    geo: { heads: 4, kvHeads: 2, headDim: 3, group: 2 },
    call: { causal: true, queryOffset: 0, keyLength: 5 },
  }]);
  assertEquals(attentionCalls.length, 1);
  decline = true;
  assertEquals([...packed.forward(x).toFloat32Array()], [...expected], "a declined packed call falls back exactly");
  assertEquals([packedCalls.length, attentionCalls.length], [2, 2]);
  using state = packed.createState!(2);
  packed.step!(x, state);
  assertEquals([packedCalls.length, attentionCalls.length], [2, 3]);
  // a q/k transform needs the split heads: packedAttention is never asked
  const transformed = createDotProductMixer(spec(), {
    name: "test mixer",
    attention,
    packedAttention,
    qkTransform: gains,
  });
  transformed.forward(x);
  assertEquals([packedCalls.length, attentionCalls.length], [2, 4]);
});

test("eagerAttention: the broadcast ALiBi/mask tables equal the naive per-head offsets (GQA, decode offset, both weightings)", () => {
  const q = randn([2, 6, 4, 5], { seed: 21 });
  const k = randn([2, 3, 9, 5], { seed: 22 });
  const v = randn([2, 3, 9, 4], { seed: 23 });
  const slopes = [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625];
  for (const [weights, name] of [[(s: Tensor) => softmax(s), "softmax"], [sigmoid, "sigmoid"]] as const) {
    for (const [causal, queryOffset] of [[true, 5], [true, 8], [false, 5]] as const) {
      using got = eagerAttention(q, k, v, { causal, queryOffset, alibiSlopes: slopes, scoreBias: -1.5, weights });
      const expected = naiveAttention(nested(q), nested(k), nested(v), {
        causal,
        queryOffset,
        offset: (head, distance) => -slopes[head] * Math.abs(distance) - 1.5,
        weights: name,
      });
      assertClose(
        got.toFloat32Array(),
        expected.flat(3),
        { rtol: 1e-5, atol: 1e-6 },
        `${name} causal=${causal} offset=${queryOffset}`,
      );
    }
  }
});
