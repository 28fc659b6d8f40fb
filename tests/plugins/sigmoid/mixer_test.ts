// The sigmoid token mixer: parity with the official Attention layer, agreement with the functional
// reference on hand-made projections (GQA layout), KV-cache decode ≡ full forward, parameters,
// config and spec errors, the manifest and its cost function.
import { alibiSlopes } from "../../../core/alibi.ts";
import { ConfigError, DTypeError, ShapeError } from "../../../core/errors.ts";
import { type MixerSpec, PluginManifestSchema } from "../../../core/plugin.ts";
import { randn } from "../../../core/random.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { createSigmoidMixer, plugin, sigmoidAttention } from "../../../plugins/sigmoid/mod.ts";
import { assert, assertClose, assertEquals, assertRelativeError, assertThrows, relativeError } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { pick, readFixture } from "./_fixture.ts";

function spec(overrides: Partial<MixerSpec> = {}): MixerSpec {
  return { dim: 16, heads: 4, causal: true, layer: 0, layers: 1, dtype: "f32", device: "cpu", seed: 3, ...overrides };
}

/** Gives every parameter random values, so that each one matters. */
function randomize(params: Map<string, Tensor>, seed: number): void {
  let s = seed;
  for (const [name, t] of params) {
    const noise = randn(t.shape, { seed: s++, std: 0.3 });
    params.set(
      name,
      name.endsWith("norm.weight") ? tensor(noise.toFloat32Array().map((x) => 1 + x), { shape: t.shape }) : noise,
    );
  }
}

const officialMixers = [
  { file: "mixer_vit", causal: false, qkvBias: true, config: { qkNorm: "layer", maxLength: 8 } },
  { file: "mixer_lm", causal: true, qkvBias: false, config: { qkNorm: "rms", alibi: true, maxLength: 32 } },
];
for (const m of officialMixers) {
  test(`sigmoid mixer parity with the official Attention layer: ${m.file}`, () => {
    const fixture = readFixture(m.file);
    const x = pick(fixture, "x");
    const mixer = createSigmoidMixer(spec({ causal: m.causal, qkvBias: m.qkvBias }), m.config);
    const official = [...fixture.keys()].filter((k) => k.startsWith("w.")).map((k) => k.slice(2)).sort();
    assertEquals([...mixer.parameters.keys()].sort(), official);
    for (const name of official) {
      const w = pick(fixture, `w.${name}`);
      assertEquals(mixer.parameters.get(name)!.shape, w.shape, name);
      mixer.parameters.set(name, w);
    }
    const err = relativeError(mixer.forward(x).toFloat32Array(), pick(fixture, "y").toFloat32Array());
    assert(err <= 1e-5, `relative error ${err.toExponential(3)} > 1e-5`);
  });
}

/** y = x Wᵀ (+ b) by plain loops. */
function linearByHand(x: Float32Array, rows: number, w: Tensor, b: Tensor | undefined): Float32Array {
  const [out, inDim] = w.shape;
  const wv = w.toFloat32Array();
  const bv = b?.toFloat32Array();
  const y = new Float32Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = bv ? bv[o] : 0;
      for (let c = 0; c < inDim; c++) s += x[r * inDim + c] * wv[o * inDim + c];
      y[r * out + o] = s;
    }
  }
  return y;
}

test("sigmoid mixer = functional reference on hand-made q/k/v ([q | k | v] GQA layout, QK-RMSNorm, ALiBi)", () => {
  const [B, N, C, H, Hkv, d] = [2, 5, 16, 4, 2, 4];
  const mixer = createSigmoidMixer(spec({ kvHeads: Hkv, qkvBias: true }), {
    qkNorm: "rms",
    alibi: true,
    maxLength: 64,
  });
  randomize(mixer.parameters, 10);
  const x = randn([B, N, C], { seed: 4 });
  const p = (n: string) => mixer.parameters.get(n)!;
  const qkv = linearByHand(x.toFloat32Array(), B * N, p("qkv.weight"), p("qkv.bias"));
  const width = (H + 2 * Hkv) * d;
  const heads = (offset: number, count: number) => {
    const out = new Float32Array(B * count * N * d);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < count; h++) {
        for (let n = 0; n < N; n++) {
          for (let c = 0; c < d; c++) {
            out[((b * count + h) * N + n) * d + c] = qkv[(b * N + n) * width + offset + h * d + c];
          }
        }
      }
    }
    return out;
  };
  const q = tensor(heads(0, H), { shape: [B, H, N, d] });
  const k = tensor(heads(H * d, Hkv), { shape: [B, Hkv, N, d] });
  const v = tensor(heads((H + Hkv) * d, Hkv), { shape: [B, Hkv, N, d] });
  const o = sigmoidAttention(q, k, v, {
    bias: -Math.log(64),
    causal: true,
    alibiSlopes: alibiSlopes(H),
    qkNorm: { kind: "rms", qWeight: p("q_norm.weight"), kWeight: p("k_norm.weight") },
  }).toFloat32Array();
  const merged = new Float32Array(B * N * H * d);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let n = 0; n < N; n++) {
        for (let c = 0; c < d; c++) merged[((b * N + n) * H + h) * d + c] = o[((b * H + h) * N + n) * d + c];
      }
    }
  }
  const expected = linearByHand(merged, B * N, p("proj.weight"), p("proj.bias"));
  assertClose(mixer.forward(x).toFloat32Array(), expected, { rtol: 1e-4, atol: 1e-5 });
});

for (const kvHeads of [4, 2, 1]) {
  test(`sigmoid mixer: KV-cache decode equals the full forward (Hkv ${kvHeads}, ALiBi, QK-LayerNorm)`, () => {
    const mixer = createSigmoidMixer(spec({ kvHeads }), { alibi: true, qkNorm: "layer", bias: -1 });
    randomize(mixer.parameters, 20);
    const x = randn([2, 7, 16], { seed: 8 });
    const full = mixer.forward(x).toFloat32Array();
    const perToken = full.length / 14;
    for (const chunks of [[1, 1, 1, 1, 1, 1, 1], [3, 1, 3], [7]]) {
      using state = mixer.createState!(2);
      const outs: Float32Array[] = [];
      let start = 0;
      for (const t of chunks) {
        const xs = new Float32Array(2 * t * 16);
        const all = x.toFloat32Array();
        for (let b = 0; b < 2; b++) xs.set(all.subarray((b * 7 + start) * 16, (b * 7 + start + t) * 16), b * t * 16);
        outs.push(mixer.step!(tensor(xs, { shape: [2, t, 16] }), state).toFloat32Array());
        start += t;
        assertEquals(state.length, start);
      }
      // reassemble [B, N, C] from the chunk outputs [B, t, C]
      const stepped = new Float32Array(full.length);
      let offset = 0;
      chunks.forEach((t, i) => {
        for (let b = 0; b < 2; b++) {
          stepped.set(outs[i].subarray(b * t * perToken, (b + 1) * t * perToken), (b * 7 + offset) * perToken);
        }
        offset += t;
      });
      assertClose(stepped, full, { rtol: 1e-5, atol: 1e-6 }, `chunks ${chunks}`);
    }
  });
}

test("sigmoid mixer: parameters named and shaped as the official checkpoints, initialised as timm", () => {
  const mixer = createSigmoidMixer(spec({ kvHeads: 2, qkvBias: true, dtype: "bf16" }), { qkNorm: "layer" });
  const shapes = Object.fromEntries([...mixer.parameters].map(([n, t]) => [n, t.shape]));
  assertEquals(shapes, {
    "qkv.weight": [32, 16],
    "qkv.bias": [32],
    "q_norm.weight": [4],
    "q_norm.bias": [4],
    "k_norm.weight": [4],
    "k_norm.bias": [4],
    "proj.weight": [16, 16],
    "proj.bias": [16],
  });
  for (const t of mixer.parameters.values()) assertEquals(t.dtype, "bf16");
  const w = mixer.parameters.get("qkv.weight")!.toFloat32Array();
  const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
  assert(std > 0.014 && std < 0.022, `qkv.weight std ${std} should be ≈ 0.02 (truncated at 2σ)`);
  assert(w.every((x) => Math.abs(x) <= 0.0401), "trunc-normal stays within ±2σ");
  assert(mixer.parameters.get("q_norm.weight")!.toFloat32Array().every((x) => x === 1), "norm weights start at 1");
  assert(mixer.parameters.get("qkv.bias")!.toFloat32Array().every((x) => x === 0), "biases start at 0");
  const again = createSigmoidMixer(spec({ kvHeads: 2, qkvBias: true, dtype: "bf16" }), { qkNorm: "layer" });
  assertEquals(again.parameters.get("proj.weight")!.toArray(), mixer.parameters.get("proj.weight")!.toArray());
});

test("sigmoid mixer: default b is −ln(maxLength); a non-causal mixer has no decode", () => {
  const a = createSigmoidMixer(spec({ causal: false }), {});
  const b = createSigmoidMixer(spec({ causal: false }), { bias: -Math.log(4096) });
  const c = createSigmoidMixer(spec({ causal: false }), { maxLength: 16 });
  const x = randn([1, 4, 16], { seed: 2 });
  assertEquals(a.forward(x).toArray(), b.forward(x).toArray());
  assert(JSON.stringify(c.forward(x).toArray()) !== JSON.stringify(a.forward(x).toArray()), "maxLength must matter");
  assertEquals([a.createState, a.step], [undefined, undefined]);
});

test("sigmoid mixer and config reject bad input with typed errors naming the field", () => {
  assertThrows(() => createSigmoidMixer(spec(), { qkNorm: "batch" }), ConfigError, "qkNorm");
  assertThrows(() => createSigmoidMixer(spec(), { maxLength: 0 }), ConfigError, "maxLength");
  assertThrows(() => createSigmoidMixer(spec(), { alibi: "yes" }), ConfigError, "alibi");
  assertThrows(() => createSigmoidMixer(spec(), { bias: "x" }), ConfigError, "bias");
  assertThrows(() => createSigmoidMixer(spec(), { biass: -1 }), ConfigError, "biass");
  assertThrows(() => createSigmoidMixer(spec({ heads: 5 }), {}), ConfigError, "heads", "16");
  assertThrows(() => createSigmoidMixer(spec({ kvHeads: 3 }), {}), ConfigError, "kvHeads");
  const mixer = createSigmoidMixer(spec(), {});
  assertThrows(() => mixer.forward(randn([1, 4, 8])), ShapeError, "[B, N, 16]", "[1, 4, 8]");
  assertThrows(() => mixer.forward(randn([1, 4, 16], { dtype: "f16" })), DTypeError, "f16");
  const state = mixer.createState!(2);
  assertThrows(() => mixer.step!(randn([1, 1, 16]), state), ShapeError, "batch 1", "2");
  const other = createSigmoidMixer(spec(), {});
  assertThrows(() => other.step!(randn([2, 1, 16]), state), ShapeError, "state");
});

test("sigmoid manifest validates and its cost counts the mixer's parameters", () => {
  PluginManifestSchema.parse(plugin);
  for (
    const [s, config] of [[spec({ kvHeads: 2, qkvBias: true }), { qkNorm: "layer" }], [spec(), {
      qkNorm: "rms",
    }]] as const
  ) {
    const mixer = createSigmoidMixer(s, config);
    const params = [...mixer.parameters.values()].reduce((n, t) => n + t.size, 0);
    const cost = plugin.cost!(s, config, 10);
    assertEquals(cost.params, params);
    // causal: 55 visible pairs, 4 FLOPs per pair and head dim, per head; plus the two projections
    const qkvRows = s.kvHeads === 2 ? 32 : 48;
    assertEquals(cost.flops, 2 * 10 * (qkvRows + 16) * 16 + 4 * 4 * 55 * 4);
  }
});

test("sigmoid mixer in bf16: output dtype bf16, close to the f32 mixer on the same weights, decode matches", () => {
  const f32 = createSigmoidMixer(spec({ kvHeads: 2 }), { alibi: true, qkNorm: "rms", bias: -1 });
  randomize(f32.parameters, 50);
  const bf16 = createSigmoidMixer(spec({ kvHeads: 2, dtype: "bf16" }), { alibi: true, qkNorm: "rms", bias: -1 });
  for (const [name, t] of f32.parameters) {
    // round the weights to bf16 once, so both mixers see identical values
    const rounded = tensor(t.toFloat32Array(), { shape: t.shape, dtype: "bf16" });
    bf16.parameters.set(name, rounded);
    f32.parameters.set(name, tensor(rounded.toFloat32Array(), { shape: t.shape }));
  }
  const x = tensor(randn([1, 5, 16], { seed: 12 }).toFloat32Array(), { shape: [1, 5, 16], dtype: "bf16" });
  const y = bf16.forward(x);
  assertEquals(y.dtype, "bf16");
  const reference = f32.forward(tensor(x.toFloat32Array(), { shape: x.shape })).toFloat32Array();
  const err = relativeError(y.toFloat32Array(), reference);
  assert(err < 3e-2, `bf16 relative error ${err.toExponential(3)} should be below 3e-2`);
  assert(err > 0, "bf16 rounding must show");
  using state = bf16.createState!(1);
  const xv = x.toFloat32Array();
  const steps = [0, 1, 2, 3, 4].map((t) =>
    bf16.step!(tensor(xv.slice(t * 16, (t + 1) * 16), { shape: [1, 1, 16], dtype: "bf16" }), state).toFloat32Array()
  );
  assertRelativeError(steps.flatMap((s) => [...s]), y.toFloat32Array(), 2e-2, "bf16 decode vs forward");
});
