// The core-ops mixer: official parameter names and init, parity with the official fixtures,
// agreement with the float64 reference layer (vision and causal), decode == forward, causality,
// and typed errors.
import { test } from "../../_harness.ts";
import { assert, assertClose, assertEquals, assertRelativeError, assertThrows, relativeError } from "../../_assert.ts";
import { ConfigError, ShapeError } from "../../../core/errors.ts";
import { narrow } from "../../../core/ops.ts";
import { type MixerSpec, PluginManifestSchema, type TokenMixer } from "../../../core/plugin.ts";
import { randn } from "../../../core/random.ts";
import { createMixer, listPlugins, registerPlugin } from "../../../core/registry.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { createFlattenMixer, flattenMixerCost, plugin } from "../../../plugins/flatten/mod.ts";
import { referenceFlattenMixer } from "../../../plugins/flatten/reference_mixer.ts";
import { loadFixture } from "./_fixture.ts";

function spec(over: Partial<MixerSpec>): MixerSpec {
  return { dim: 32, heads: 2, causal: false, layer: 0, layers: 1, dtype: "f32", device: "cpu", seed: 3, ...over };
}

function shapes(mixer: TokenMixer): Record<string, number[]> {
  return Object.fromEntries([...mixer.parameters].map(([k, v]) => [k, [...v.shape]]));
}

/** Replaces every parameter with seeded noise, so that zero-initialised ones (scale, encoding) matter. */
function randomise(mixer: TokenMixer, seed: number): void {
  let i = 0;
  for (const [name, t] of mixer.parameters) {
    const std = name === "norm.weight" ? 0.1 : name === "scale" ? 0.5 : 0.2;
    const fresh = randn(t.shape, { seed: seed * 100 + i++, std, mean: name === "norm.weight" ? 1 : 0 });
    t.dispose();
    mixer.parameters.set(name, fresh);
  }
}

test("flatten plugin: manifest validates and registers; registry builds mixers from defaults", () => {
  PluginManifestSchema.parse(plugin);
  if (!listPlugins().some((p) => p.name === "flatten")) registerPlugin(plugin);
  using m = createMixer("flatten", spec({ grid: [4, 4] }));
  assertEquals(m.forward(randn([1, 16, 32])).shape, [1, 16, 32]);
  assertThrows(() => createMixer("flatten", spec({ grid: [4, 4] }), { kernelSize: 2 }), ConfigError, "kernelSize");
});

test("flatten mixer: parameters are named and shaped as the official checkpoints", () => {
  using pvt = createFlattenMixer(spec({ grid: [8, 8], qkvBias: true }), { projection: "q_kv", srRatio: 2 });
  assertEquals(shapes(pvt), {
    "q.weight": [32, 32],
    "q.bias": [32],
    "kv.weight": [64, 32],
    "kv.bias": [64],
    "proj.weight": [32, 32],
    "proj.bias": [32],
    "sr.weight": [32, 32, 2, 2],
    "sr.bias": [32],
    "norm.weight": [32],
    "norm.bias": [32],
    "dwc.weight": [16, 1, 5, 5],
    "dwc.bias": [16],
    "scale": [1, 1, 32],
    "positional_encoding": [1, 16, 32],
  });
  using swin = createFlattenMixer(spec({ heads: 4 }), { window: 7 });
  assertEquals(shapes(swin), {
    "qkv.weight": [96, 32],
    "qkv.bias": [96],
    "proj.weight": [32, 32],
    "proj.bias": [32],
    "dwc.weight": [8, 1, 5, 5],
    "dwc.bias": [8],
    "scale": [1, 1, 32],
    "positional_encoding": [1, 49, 32],
  });
  using lm = createFlattenMixer(spec({ causal: true }), { kernelSize: 4 + 3 });
  assertEquals(shapes(lm), {
    "qkv.weight": [96, 32],
    "proj.weight": [32, 32],
    "proj.bias": [32],
    "dwc.weight": [16, 1, 7],
    "dwc.bias": [16],
    "scale": [1, 1, 32],
  });
});

test("flatten mixer: init is trunc-normal 0.02 linears, zero biases, scale and encoding, default conv bounds", () => {
  using m = createFlattenMixer(spec({ grid: [8, 8], dim: 64 }), {});
  const w = m.parameters.get("qkv.weight")!.toFloat32Array();
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
  assert(Math.abs(std - 0.02) < 0.001 && Math.abs(mean) < 0.001, `qkv std ${std}, mean ${mean}`);
  for (const name of ["qkv.bias", "proj.bias", "scale", "positional_encoding"]) {
    assert(m.parameters.get(name)!.toFloat32Array().every((v) => v === 0), `${name} must start at zero`);
  }
  const dwc = m.parameters.get("dwc.weight")!.toFloat32Array();
  const bound = Math.max(...dwc.map(Math.abs));
  assert(bound <= 1 / 5 && bound > 0.15, `dwc weights in ±1/√25, max |w| ${bound}`);
  using again = createFlattenMixer(spec({ grid: [8, 8], dim: 64 }), {});
  assertClose(again.parameters.get("qkv.weight")!.toFloat32Array(), w, { rtol: 0, atol: 0 }, "same seed");
  assertEquals(
    flattenMixerCost(spec({ grid: [8, 8], dim: 64 }), {}, 64).params,
    [...m.parameters.values()].reduce((a, t) => a + t.size, 0),
  );
});

const FIXTURES = ["pvt_sr1", "pvt_sr2", "pvt_sr2_rect", "pvt_f2_k3", "swin_w8", "swin_w6"];

for (const name of FIXTURES) {
  test(`flatten mixer matches the official module: ${name}`, () => {
    const { tensors, meta } = loadFixture(name);
    const [h, w] = [Number(meta.H), Number(meta.W)];
    const swin = meta.form === "swin";
    const x = tensors.get("x")!;
    const errors: string[] = [];
    for (const order of ["kv", "qk"] as const) {
      using m = createFlattenMixer(
        spec({ dim: x.shape[2], heads: Number(meta.heads), grid: [h, w], qkvBias: true }),
        {
          focusingFactor: Number(meta.focusing_factor),
          kernelSize: Number(meta.kernel_size),
          srRatio: Number(meta.sr_ratio),
          projection: swin ? "qkv" : "q_kv",
          order,
        },
      );
      for (const key of m.parameters.keys()) {
        const official = tensors.get(key);
        assert(official !== undefined, `fixture lacks ${key}`);
        assertEquals([...official.shape], [...m.parameters.get(key)!.shape], key);
        m.parameters.get(key)!.dispose();
        m.parameters.set(key, tensor(official.toFloat32Array(), { shape: official.shape }));
      }
      const actual = m.forward(x).toFloat32Array();
      const expected = tensors.get("out")!.toFloat32Array();
      errors.push(`${order} ${relativeError(actual, expected).toExponential(2)}`);
      assertRelativeError(actual, expected, 1e-5, `${name} (${order} first)`);
    }
    console.log(`${name}: relative error vs official, ${errors.join(", ")}`);
  });
}

test("flatten mixer equals the float64 reference layer with every parameter random (vision, r = 2)", () => {
  using m = createFlattenMixer(spec({ grid: [6, 4], heads: 4 }), { projection: "q_kv", srRatio: 2, kernelSize: 3 });
  randomise(m, 1);
  const x = randn([2, 24, 32], { seed: 40 });
  const expected = referenceFlattenMixer(x, m.parameters, { heads: 4, grid: [6, 4], srRatio: 2 }).toFloat32Array();
  assertRelativeError(m.forward(x).toFloat32Array(), expected, 1e-5, "vision r=2");
});

test("flatten mixer equals the float64 reference layer in causal form (N crosses a 64-token chunk)", () => {
  using m = createFlattenMixer(spec({ causal: true, qkvBias: true }), { kernelSize: 4 + 1 });
  randomise(m, 2);
  const x = randn([2, 70, 32], { seed: 41 });
  const expected = referenceFlattenMixer(x, m.parameters, { heads: 2, causal: true }).toFloat32Array();
  assertRelativeError(m.forward(x).toFloat32Array(), expected, 1e-5, "causal");
});

test("flatten mixer: decoding token by token, or in uneven chunks, equals the full forward", () => {
  using m = createFlattenMixer(spec({ causal: true }), {});
  randomise(m, 3);
  const x = randn([2, 11, 32], { seed: 42 });
  const full = m.forward(x).toFloat32Array();
  for (const sizes of [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [3, 1, 5, 2]]) {
    using state = m.createState!(2);
    const pieces: Float32Array[] = [];
    let start = 0;
    for (const size of sizes) {
      using chunk = narrow(x, 1, start, size);
      using out = m.step!(chunk, state);
      pieces.push(out.toFloat32Array());
      start += size;
    }
    assertEquals(state.length, 11);
    // interleave the per-chunk [B, T, C] outputs back into [B, N, C]
    const stitched = new Float32Array(full.length);
    let offset = 0;
    sizes.forEach((size, i) => {
      for (let b = 0; b < 2; b++) {
        stitched.set(pieces[i].subarray(b * size * 32, (b + 1) * size * 32), (b * 11 + offset) * 32);
      }
      offset += size;
    });
    assertClose(stitched, full, { rtol: 1e-5, atol: 1e-6 }, `chunks ${sizes.join("+")}`);
  }
});

test("flatten mixer: causal outputs before a perturbed token are unchanged, later ones move", () => {
  using m = createFlattenMixer(spec({ causal: true }), {});
  randomise(m, 4);
  const x = randn([1, 9, 32], { seed: 43 });
  const base = m.forward(x).toFloat32Array();
  const bumped = x.toFloat32Array();
  for (let c = 0; c < 32; c++) bumped[4 * 32 + c] += 1;
  const out = m.forward(tensor(bumped, { shape: [1, 9, 32] })).toFloat32Array();
  assertClose(out.subarray(0, 4 * 32), base.subarray(0, 4 * 32), { rtol: 0, atol: 0 }, "before token 4");
  for (const t of [4, 5, 8]) {
    let moved = 0;
    for (let c = 0; c < 32; c++) moved = Math.max(moved, Math.abs(out[t * 32 + c] - base[t * 32 + c]));
    assert(moved > 1e-4, `token ${t} must change (moved ${moved})`);
  }
});

test("flatten mixer: bf16 forward stays close to f32", () => {
  const x = randn([1, 16, 32], { seed: 44 });
  using f32 = createFlattenMixer(spec({ grid: [4, 4] }), {});
  randomise(f32, 5);
  using bf16 = createFlattenMixer(spec({ grid: [4, 4], dtype: "bf16" }), {});
  for (const [name, t] of f32.parameters) {
    bf16.parameters.get(name)!.dispose();
    bf16.parameters.set(name, tensor(t.toFloat32Array(), { shape: t.shape, dtype: "bf16" }));
  }
  const expected = f32.forward(x).toFloat32Array();
  const out: Tensor = bf16.forward(tensor(x.toFloat32Array(), { shape: x.shape, dtype: "bf16" }));
  assertEquals(out.dtype, "bf16");
  const err = relativeError(out.toFloat32Array(), expected);
  assert(err < 3e-2 && err > 0, `bf16 relative error ${err}`);
});

test("flatten mixer: f16 focuses in f32, so large features do not overflow y^p", () => {
  using f32 = createFlattenMixer(spec({ grid: [4, 4] }), {});
  randomise(f32, 6);
  f32.parameters.get("scale")!.dispose();
  f32.parameters.set("scale", tensor(new Float32Array(32).fill(-2.5), { shape: [1, 1, 32] }));
  using f16 = createFlattenMixer(spec({ grid: [4, 4], dtype: "f16" }), {});
  for (const [name, t] of f32.parameters) {
    f16.parameters.get(name)!.dispose();
    f16.parameters.set(name, tensor(t.toFloat32Array(), { shape: t.shape, dtype: "f16" }));
  }
  const x = randn([1, 16, 32], { seed: 45, std: 1 });
  const expected = f32.forward(x).toFloat32Array();
  const out = f16.forward(tensor(x.toFloat32Array(), { shape: x.shape, dtype: "f16" })).toFloat32Array();
  assert(out.every(Number.isFinite), "f16 output must stay finite");
  assertRelativeError(out, expected, 1e-2, "f16");
});

test("flatten mixer: bad input and geometry throw typed errors", () => {
  using vision = createFlattenMixer(spec({ grid: [4, 4] }), {});
  assertThrows(() => vision.forward(randn([1, 15, 32])), ShapeError, "[1, 15, 32]", "4×4");
  assertThrows(() => vision.forward(randn([1, 16, 30])), ShapeError, "[1, 16, 30]");
  assertThrows(() => vision.createState!(1), ShapeError, "causal");
  assertThrows(() => createFlattenMixer(spec({}), {}), ConfigError, "grid");
  assertThrows(() => createFlattenMixer(spec({ heads: 3 }), { window: 4 }), ConfigError, "heads");
  assertThrows(
    () => createFlattenMixer(spec({ grid: [6, 6] }), { projection: "q_kv", srRatio: 4 }),
    ConfigError,
    "srRatio",
  );
  assertThrows(() => createFlattenMixer(spec({ grid: [4, 4], classToken: true }), {}), ConfigError, "classToken");
  assertThrows(() => createFlattenMixer(spec({ causal: true }), { window: 4 }), ConfigError, "causal");
  using lm = createFlattenMixer(spec({ causal: true }), {});
  using state = lm.createState!(2);
  assertThrows(() => lm.step!(randn([1, 3, 32]), state), ShapeError, "batch", "[1, 3, 32]");
});
