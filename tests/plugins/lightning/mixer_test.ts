// The TransNormerLLM token mixer: official parity (training path and the official chunked prefill
// + recurrent decode), decode equals forward, LRPE positions restart per sequence, causality, the
// bidirectional variant, config errors and the manifest.
import { ConfigError, DTypeError, ShapeError } from "../../../core/errors.ts";
import type { MixerSpec, TokenMixer } from "../../../core/plugin.ts";
import { randn } from "../../../core/random.ts";
import { createMixer, getPlugin, listPlugins, registerPlugin } from "../../../core/registry.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { layerDecayRates } from "../../../plugins/lightning/decay.ts";
import { createLightningMixer, lightningMixerCost } from "../../../plugins/lightning/mixer.ts";
import { plugin } from "../../../plugins/lightning/mod.ts";
import { assert, assertClose, assertEquals, assertRelativeError, assertThrows, relativeError } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { pick, readFixture } from "./_fixture.ts";

function spec(layer: number, overrides: Partial<MixerSpec> = {}): MixerSpec {
  return { dim: 64, heads: 4, causal: true, layer, layers: 2, dtype: "f32", device: "cpu", seed: 7, ...overrides };
}

/** Loads the official weights of one layer into a mixer (names relative to the layer). */
function loadLayer(mixer: TokenMixer, weights: Map<string, Tensor>, layer: number): void {
  const prefix = `layers.${layer}.token_mixer.`;
  let loaded = 0;
  for (const [name, t] of weights) {
    if (!name.startsWith(prefix)) continue;
    const key = name.slice(prefix.length);
    const mine = mixer.parameters.get(key);
    assert(mine !== undefined, `mixer has no parameter ${key}`);
    assertEquals(mine.shape, t.shape, key);
    mixer.parameters.set(key, t);
    loaded++;
  }
  assertEquals(loaded, mixer.parameters.size, `layer ${layer} parameters loaded`);
}

/** Tokens [from, from + count) of x [B, N, C]. */
function tokens(x: Tensor, from: number, count: number): Tensor {
  const [batch, length, dim] = x.shape;
  const a = x.toFloat32Array();
  const out = new Float32Array(batch * count * dim);
  for (let b = 0; b < batch; b++) {
    out.set(a.subarray((b * length + from) * dim, (b * length + from + count) * dim), b * count * dim);
  }
  return tensor(out, { shape: [batch, count, dim] });
}

function concatTokens(parts: Tensor[]): Float32Array {
  const batch = parts[0].shape[0];
  const dim = parts[0].shape[2];
  const total = parts.reduce((n, p) => n + p.shape[1], 0);
  const out = new Float32Array(batch * total * dim);
  let at = 0;
  for (const p of parts) {
    const a = p.toFloat32Array();
    for (let b = 0; b < batch; b++) {
      out.set(a.subarray(b * p.shape[1] * dim, (b + 1) * p.shape[1] * dim), (b * total + at) * dim);
    }
    at += p.shape[1];
  }
  return out;
}

test("lightning mixer: official HF TransNormerLLM token mixer parity (layer 0 with LRPE, layer 1)", () => {
  const f = readFixture("mixer");
  for (const layer of [0, 1]) {
    using mixer = createLightningMixer(spec(layer), {});
    assertClose(
      layerDecayRates(4, layer, 2),
      pick(f, `layers.${layer}.slope_rate`).toFloat32Array(),
      { rtol: 1e-6 },
      "decay",
    );
    if (layer === 0) {
      const theta = pick(f, "layers.0.token_mixer.lrpe.theta").toFloat32Array();
      assertClose(mixer.parameters.get("lrpe.theta")!.toFloat32Array(), theta, { rtol: 1e-6 }, "initial θ");
    }
    loadLayer(mixer, f, layer);
    const y = mixer.forward(pick(f, `layers.${layer}.x`)).toFloat32Array();
    const expected = pick(f, `layers.${layer}.y`).toFloat32Array();
    console.log(`official token mixer layer ${layer}: rel err ${relativeError(y, expected).toExponential(2)}`);
    assertRelativeError(y, expected, 1e-5, `layer ${layer}`);
  }
});

test("lightning mixer: official inference (chunked prefill, then one token per call) parity", () => {
  const weights = readFixture("mixer");
  const f = readFixture("decode");
  for (const layer of [0, 1]) {
    using mixer = createLightningMixer(spec(layer, { seed: 1 }), {});
    loadLayer(mixer, weights, layer);
    using state = mixer.createState!(2);
    const prefill = mixer.step!(pick(f, `layers.${layer}.prefill.x`), state).toFloat32Array();
    const kv = (state as unknown as { kv: Tensor }).kv.toFloat32Array();
    const decodeX = pick(f, `layers.${layer}.decode.x`);
    const steps = Array.from({ length: decodeX.shape[1] }, (_, t) => mixer.step!(tokens(decodeX, t, 1), state));
    const errs = [
      relativeError(prefill, pick(f, `layers.${layer}.prefill.y`).toFloat32Array()),
      relativeError(kv, pick(f, `layers.${layer}.prefill.kv`).toFloat32Array()),
      relativeError(concatTokens(steps), pick(f, `layers.${layer}.decode.y`).toFloat32Array()),
    ];
    console.log(
      `official inference layer ${layer}: rel err prefill ${errs[0].toExponential(2)}, ` +
        `state ${errs[1].toExponential(2)}, decode ${errs[2].toExponential(2)}`,
    );
    for (const [i, what] of ["prefill", "state after prefill", "decode"].entries()) {
      assert(errs[i] <= 1e-5, `layer ${layer} ${what}: relative error ${errs[i]}`);
    }
    assertEquals(state.length, 37);
  }
});

test("lightning mixer: step in chunks equals forward, with and without LRPE", () => {
  for (const layer of [0, 1]) {
    using mixer = createLightningMixer(spec(layer, { dim: 24, heads: 2, layers: 3 }), { blockSize: 4 });
    const x = randn([2, 13, 24], { seed: 500 + layer });
    const full = mixer.forward(x).toFloat32Array();
    using state = mixer.createState!(2);
    const parts = [[0, 5], [5, 1], [6, 7]].map(([from, n]) => mixer.step!(tokens(x, from, n), state));
    assertRelativeError(concatTokens(parts), full, 1e-5, `layer ${layer}`);
  }
});

test("lightning mixer: LRPE positions restart at 0 for every new state", () => {
  using mixer = createLightningMixer(spec(0, { dim: 16, heads: 2 }), {});
  const x = randn([1, 6, 16], { seed: 600 });
  const full = mixer.forward(x).toFloat32Array();
  using first = mixer.createState!(1);
  mixer.step!(randn([1, 9, 16], { seed: 601 }), first);
  using second = mixer.createState!(1);
  assertRelativeError(mixer.step!(x, second).toFloat32Array(), full, 1e-6, "fresh state after another sequence");
  // the same tokens at a later position give different outputs (LRPE and decay both see positions)
  using third = mixer.createState!(1);
  mixer.step!(tokens(x, 0, 1), third);
  const later = mixer.step!(tokens(x, 0, 1), third).toFloat32Array();
  assert(relativeError(later, full.slice(0, 16)) > 1e-3, "position 1 must differ from position 0");
});

test("lightning mixer: changing tokens after t never changes outputs up to t", () => {
  using mixer = createLightningMixer(spec(0, { dim: 16, heads: 2 }), { blockSize: 3 });
  const x = randn([1, 10, 16], { seed: 700 });
  const base = mixer.forward(x).toFloat32Array();
  const changed = x.toFloat32Array();
  for (let i = 6 * 16; i < changed.length; i++) changed[i] += 1;
  const after = mixer.forward(tensor(changed, { shape: x.shape })).toFloat32Array();
  for (let i = 0; i < 6 * 16; i++) assertEquals(after[i], base[i], `output ${i}`);
  assert(relativeError(after.slice(6 * 16), base.slice(6 * 16)) > 1e-3, "later outputs must change");
});

test("lightning mixer: bidirectional mixer sees the future, and equals the causal one at the last token", () => {
  const s = spec(1, { dim: 16, heads: 2, seed: 3 });
  using causal = createLightningMixer(s, {});
  using both = createLightningMixer({ ...s, causal: false }, {});
  assertEquals(both.createState, undefined);
  const x = randn([2, 7, 16], { seed: 800 });
  const c = causal.forward(x).toFloat32Array();
  const b = both.forward(x).toFloat32Array();
  for (let batch = 0; batch < 2; batch++) {
    const last = (batch * 7 + 6) * 16;
    assertClose(b.slice(last, last + 16), c.slice(last, last + 16), { rtol: 1e-5, atol: 1e-6 }, "last token");
    const first = batch * 7 * 16;
    assert(
      relativeError(b.slice(first, first + 16), c.slice(first, first + 16)) > 1e-3,
      "first token must see the future",
    );
  }
});

test("lightning mixer: LayerNorm variant gates and projects its bias (weight 0 ⇒ y = (u ⊙ bias) W_outᵀ)", () => {
  const [dim, rows] = [8, 3];
  using mixer = createLightningMixer(spec(1, { dim, heads: 2 }), { normType: "layernorm" });
  const bias = randn([dim], { seed: 900 });
  mixer.parameters.set("norm.weight", tensor(new Float32Array(dim), { shape: [dim] }));
  mixer.parameters.set("norm.bias", bias);
  const x = randn([1, rows, dim], { seed: 901 });
  const [xa, w, wo, ba] = [x, mixer.parameters.get("qkvu_proj.weight")!, mixer.parameters.get("out_proj.weight")!, bias]
    .map((t) => t.toFloat32Array());
  const expected: number[] = [];
  for (let r = 0; r < rows; r++) {
    const gated = Array.from({ length: dim }, (_, c) => {
      let u = 0;
      for (let i = 0; i < dim; i++) u += xa[r * dim + i] * w[(3 * dim + c) * dim + i];
      return u * ba[c];
    });
    for (let o = 0; o < dim; o++) expected.push(gated.reduce((acc, g, c) => acc + g * wo[o * dim + c], 0));
  }
  assertClose(mixer.forward(x).toFloat32Array(), expected, { rtol: 1e-5, atol: 1e-7 });
});

test("lightning mixer: parameters, names, dtypes and cost", () => {
  using m0 = createLightningMixer(spec(0, { dtype: "bf16" }), {});
  using m1 = createLightningMixer(spec(1), {});
  assertEquals([...m0.parameters.keys()], ["qkvu_proj.weight", "out_proj.weight", "lrpe.theta"]);
  assertEquals([...m1.parameters.keys()], ["qkvu_proj.weight", "out_proj.weight"]);
  assertEquals(m0.parameters.get("lrpe.theta")!.shape, [4, 1, 16]);
  assertEquals(m0.parameters.get("qkvu_proj.weight")!.dtype, "bf16");
  const w = m1.parameters.get("qkvu_proj.weight")!.toFloat32Array();
  const std = Math.sqrt(w.reduce((a, x) => a + x * x, 0) / w.length);
  assert(Math.abs(std - 0.02) < 0.002, `init std ${std}, expected 0.02`);
  for (const [m, layer] of [[m0, 0], [m1, 1]] as const) {
    const count = [...m.parameters.values()].reduce((n, p) => n + p.size, 0);
    assertEquals(lightningMixerCost(spec(layer), {}, 100).params, count);
  }
  assertEquals(m0.forward(randn([1, 3, 64], { seed: 1, dtype: "bf16" })).dtype, "bf16");
});

test("lightning mixer: bad config and inputs throw typed errors", () => {
  assertThrows(() => createLightningMixer(spec(0, { layers: 1 }), {}), ConfigError, "layers", "L >= 2");
  assertThrows(() => createLightningMixer(spec(0), { useLrpeList: [1, 0, 0] }), ConfigError, "useLrpeList", "(2)");
  assertThrows(() => createLightningMixer(spec(0), { actFun: "tanh" }), ConfigError, "actFun");
  assertThrows(() => createLightningMixer(spec(0), { blocksize: 64 }), ConfigError, "blocksize");
  assertThrows(() => createLightningMixer(spec(0), { hiddenDim: 32 }), ConfigError, "hiddenDim", "LRPE");
  assertThrows(() => createLightningMixer(spec(1), { hiddenDim: 30 }), ConfigError, "hiddenDim", "divisible");
  assertThrows(() => createLightningMixer(spec(1, { kvHeads: 2 }), {}), ConfigError, "kvHeads");
  using mixer = createLightningMixer(spec(1), {});
  assertThrows(() => mixer.forward(randn([1, 3, 32])), ShapeError, "[B, N, 64]", "[1, 3, 32]");
  assertThrows(() => mixer.forward(randn([1, 3, 64], { dtype: "bf16" })), DTypeError, "f32", "bf16");
  using other = createLightningMixer(spec(1), {});
  using foreign = other.createState!(1);
  assertThrows(() => mixer.step!(randn([1, 1, 64]), foreign), ShapeError, "createState");
  using state = mixer.createState!(2);
  assertThrows(() => mixer.step!(randn([1, 1, 64]), state), ShapeError, "2 sequences");
});

test("lightning mixer: the manifest registers and builds mixers through the registry", () => {
  // another suite may have registered the plugin already (Bun shares modules across test files)
  const registered = listPlugins().some((p) => p.name === "lightning")
    ? getPlugin("lightning")
    : registerPlugin(plugin);
  assertEquals(registered.name, "lightning");
  using direct = createLightningMixer(spec(1, { dim: 16, heads: 2 }), {});
  using viaRegistry = createMixer("lightning", spec(1, { dim: 16, heads: 2 }), { blockSize: 2 });
  viaRegistry.parameters.set("qkvu_proj.weight", direct.parameters.get("qkvu_proj.weight")!);
  viaRegistry.parameters.set("out_proj.weight", direct.parameters.get("out_proj.weight")!);
  const x = randn([1, 5, 16], { seed: 950 });
  assertRelativeError(viaRegistry.forward(x).toFloat32Array(), direct.forward(x).toFloat32Array(), 1e-6);
  assertThrows(() => createMixer("lightning", spec(1), { blockSize: -1 }), ConfigError, "blockSize");
});

test("lightning mixer: a hidden width other than the model width works without LRPE", () => {
  using mixer = createLightningMixer(spec(1, { dim: 16, heads: 2 }), { hiddenDim: 8, useLrpeList: [0, 0] });
  assertEquals(mixer.parameters.get("qkvu_proj.weight")!.shape, [32, 16]);
  assertEquals(mixer.parameters.get("out_proj.weight")!.shape, [16, 8]);
  assertEquals(mixer.forward(randn([1, 4, 16])).shape, [1, 4, 16]);
});
