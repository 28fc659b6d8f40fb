// The agent mixers (core ops) against the plain-loop references and the official outputs; the
// causal mixer's decode against its forward; the manifest against the registry.
import { assert, assertClose, assertRelativeError, assertThrows, relativeError } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { ConfigError, ShapeError } from "../../../core/errors.ts";
import { concat, narrow } from "../../../core/ops.ts";
import type { MixerSpec, TokenMixer } from "../../../core/plugin.ts";
import { randn } from "../../../core/random.ts";
import { listPlugins, registerPlugin } from "../../../core/registry.ts";
import { numel, type Tensor, tensor } from "../../../core/tensor.ts";
import type { AgentOpScanState } from "../../../plugins/agent/_op_scan.ts";
import {
  agentGeometry,
  agentLayerReference,
  agentMixerCost,
  causalAgentLayerReference,
  createAgentMixer,
  parseAgentConfig,
  plugin,
} from "../../../plugins/agent/mod.ts";
import { fixtureConfig, FIXTURES, loadFixture } from "./_fixtures.ts";

function spec(over: Partial<MixerSpec>): MixerSpec {
  return { dim: 48, heads: 3, causal: false, layer: 0, layers: 1, dtype: "f32", device: "cpu", seed: 3, ...over };
}

/** Replaces every parameter of the mixer by the tensor of the same name in `source`. */
function load(mixer: TokenMixer, source: Map<string, Tensor>): void {
  for (const [name, current] of mixer.parameters) {
    const t = source.get(name);
    assert(t !== undefined, `fixture lacks ${name}`);
    assert(t.shape.join() === current.shape.join(), `${name}: ${t.shape} vs ${current.shape}`);
    current.dispose();
    mixer.parameters.set(name, t);
  }
}

for (const f of FIXTURES) {
  test(`agent mixer matches official ${f.file} (rel err ≤ 1e-5)`, () => {
    const t = loadFixture(f);
    using mixer = createAgentMixer(
      spec({ dim: f.dim, heads: f.heads, grid: f.grid, classToken: f.classToken }),
      f.config,
    );
    assert(mixer.parameters.size === [...t.keys()].filter((k) => !/^(x|out|windows_in|windows_out)$/.test(k)).length);
    load(mixer, t);
    using out = mixer.forward(t.get("x")!);
    const err = relativeError(out.toFloat32Array(), t.get("out")!.toFloat32Array());
    console.log(`${f.file}: mixer rel err vs official ${err.toExponential(2)}`);
    assert(err <= 1e-5, `${f.file}: relative error ${err}`);
  });
}

test("agent mixer with its own random init equals the reference, batch 3, Swin windows + shift", () => {
  const s = spec({ dim: 16, heads: 2, grid: [8, 8], seed: 9 });
  const config = { agentNum: 4, window: 4, shift: 2 };
  using mixer = createAgentMixer(s, config);
  // official init makes the bias tables tiny; give them weight so the test sees them
  for (const name of ["an_bias", "na_bias", "ah_bias", "wa_bias"]) {
    const old = mixer.parameters.get(name)!;
    mixer.parameters.set(name, randn(old.shape, { seed: name.length }));
    old.dispose();
  }
  const x = randn([3, 64, 16], { seed: 5 });
  using out = mixer.forward(x);
  const ref = agentLayerReference(x, mixer.parameters, agentGeometry(s, parseAgentConfig(config)));
  assertRelativeError(out.toFloat32Array(), ref.toFloat32Array(), 1e-5);
});

test("agent mixers run in bf16 within bf16 rounding of the f64 reference", () => {
  const vision = spec({ dim: 16, heads: 2, grid: [6, 6], classToken: true, dtype: "bf16", seed: 2 });
  using mixer = createAgentMixer(vision, { agentNum: 4 });
  const x = randn([2, 37, 16], { seed: 3, dtype: "bf16" });
  using out = mixer.forward(x);
  assert(out.dtype === "bf16", out.dtype);
  const ref = agentLayerReference(x, mixer.parameters, agentGeometry(vision, parseAgentConfig({ agentNum: 4 })));
  const err = relativeError(out.toFloat32Array(), ref.toFloat32Array());
  assert(err > 0 && err < 2e-2, `vision bf16 rel err ${err}`);
  const causal = spec({ dim: 12, heads: 3, causal: true, dtype: "bf16", seed: 2 });
  using lm = createAgentMixer(causal, { agentNum: 5 });
  const xs = randn([1, 7, 12], { seed: 4, dtype: "bf16" });
  using lmOut = lm.forward(xs);
  const lmRef = causalAgentLayerReference(xs, lm.parameters, { heads: 3 });
  const lmErr = relativeError(lmOut.toFloat32Array(), lmRef.toFloat32Array());
  assert(lmOut.dtype === "bf16" && lmErr > 0 && lmErr < 2e-2, `causal bf16 rel err ${lmErr}`);
});

test("agent mixer init: official names, trunc-normal .02 tables, zero Linear biases, seeded", () => {
  using a = createAgentMixer(spec({ grid: [6, 6], classToken: true, qkvBias: true }), { agentNum: 9 });
  using b = createAgentMixer(spec({ grid: [6, 6], classToken: true, qkvBias: true }), { agentNum: 9 });
  const names = [...a.parameters.keys()].sort().join(",");
  assert(names.includes("ac_bias") && names.includes("qkv.bias") && names.includes("dwc.weight"), names);
  const table = a.parameters.get("an_bias")!.toFloat32Array();
  const std = Math.sqrt(table.reduce((s, v) => s + v * v, 0) / table.length);
  assert(std > 0.015 && std < 0.025 && table.every((v) => Math.abs(v) <= 0.04), `an_bias std ${std}`);
  assert(a.parameters.get("qkv.bias")!.toFloat32Array().every((v) => v === 0), "qkv.bias zeros");
  assertClose(a.parameters.get("an_bias")!.toFloat32Array(), b.parameters.get("an_bias")!.toFloat32Array(), {
    rtol: 0,
    atol: 0,
  });
});

test("agent mixer errors: token count, non-square agents, heads, missing grid", () => {
  using mixer = createAgentMixer(spec({ grid: [4, 4], classToken: true }), { agentNum: 4 });
  assertThrows(() => mixer.forward(randn([1, 16, 48])), ShapeError, "agent", "[1, 16, 48]", "17");
  assertThrows(() => mixer.forward(randn([0, 17, 48])), ShapeError, "agent");
  assertThrows(() => createAgentMixer(spec({ grid: [4, 4] }), { agentNum: 8 }), ConfigError, "agentNum");
  assertThrows(() => createAgentMixer(spec({ grid: [4, 4], heads: 5 }), { agentNum: 4 }), ConfigError, "heads");
  assertThrows(() => createAgentMixer(spec({}), { agentNum: 4 }), ConfigError, "grid");
  assertThrows(() => createAgentMixer(spec({ causal: true, heads: 7 }), {}), ConfigError, "heads");
  assertThrows(() => createAgentMixer(spec({ grid: [4, 4], kvHeads: 1 }), { agentNum: 4 }), ConfigError, "kvHeads");
});

function causalMixer(kernelSize: number, seed = 4): TokenMixer {
  const mixer = createAgentMixer(spec({ dim: 12, heads: 3, causal: true, qkvBias: true, seed }), {
    agentNum: 5,
    kernelSize,
  });
  // agents and conv with weight, so that neither is negligible
  for (const [name, std] of [["agents", 1], ["dwc.weight", 0.5]] as const) {
    const old = mixer.parameters.get(name)!;
    mixer.parameters.set(name, randn(old.shape, { seed: seed + name.length, std }));
    old.dispose();
  }
  return mixer;
}

test("causal agent mixer forward equals the naive quadratic reference", () => {
  using mixer = causalMixer(3);
  const x = randn([2, 10, 12], { seed: 61 });
  using out = mixer.forward(x);
  const ref = causalAgentLayerReference(x, mixer.parameters, { heads: 3 });
  assertRelativeError(out.toFloat32Array(), ref.toFloat32Array(), 1e-5);
});

for (const kernel of [1, 3, 4]) {
  test(`causal agent mixer: decode one token at a time (and in chunks) equals forward, K = ${kernel}`, () => {
    using mixer = causalMixer(kernel);
    const x = randn([2, 9, 12], { seed: 71 });
    using full = mixer.forward(x);
    for (const chunks of [[1, 1, 1, 1, 1, 1, 1, 1, 1], [2, 4, 3], [9]]) {
      using state = mixer.createState!(2);
      const outs: Tensor[] = [];
      let start = 0;
      for (const len of chunks) {
        using piece = narrow(x, 1, start, len);
        outs.push(mixer.step!(piece, state));
        start += len;
      }
      assert(state.length === 9, `state length ${state.length}`);
      using stepped = concat(outs, 1);
      outs.forEach((t) => t.dispose());
      assertClose(stepped.toFloat32Array(), full.toFloat32Array(), { rtol: 1e-5, atol: 1e-6 }, `chunks ${chunks}`);
    }
  });
}

test("causal agent mixer: perturbing tokens after t leaves outputs ≤ t unchanged", () => {
  using mixer = causalMixer(3);
  const x = randn([1, 8, 12], { seed: 81 });
  using base = mixer.forward(x);
  const changed = x.toFloat32Array();
  for (let i = 5 * 12; i < changed.length; i++) changed[i] = -3 * changed[i] + 1;
  using out = mixer.forward(tensor(changed, { shape: [1, 8, 12] }));
  assertClose(out.toFloat32Array().subarray(0, 5 * 12), base.toFloat32Array().subarray(0, 5 * 12), {
    rtol: 0,
    atol: 0,
  });
  assert(relativeError(out.toFloat32Array().subarray(5 * 12), base.toFloat32Array().subarray(5 * 12)) > 1e-3);
});

test("causal agent mixer: decode state size does not grow with the sequence", () => {
  using mixer = causalMixer(3);
  using state = mixer.createState!(1);
  const sizes: number[] = [];
  for (let t = 0; t < 40; t++) {
    mixer.step!(randn([1, 1, 12], { seed: t }), state).dispose();
    const inner = state as unknown as { scan: AgentOpScanState; tail: Tensor };
    sizes.push(inner.scan.agentValues!.size + inner.scan.logNormaliser!.size + inner.tail.size);
  }
  assert(sizes.every((s) => s === sizes[0]), `state sizes ${[...new Set(sizes)]}`);
  // per head and agent: V_A (e = 4) and the log-normaliser; the conv keeps K − 1 = 2 values per channel
  assert(sizes[0] === 3 * 5 * (4 + 1) + 12 * 2, `state holds ${sizes[0]} numbers`);
});

test("causal agent mixer step rejects a foreign state and a batch mismatch", () => {
  using mixer = causalMixer(3);
  using other = causalMixer(3, 8);
  using state = other.createState!(2);
  using mine = mixer.createState!(2);
  assertThrows(() => mixer.step!(randn([2, 1, 12]), { length: 0, [Symbol.dispose]() {} }), ShapeError, "state");
  assertThrows(() => mixer.step!(randn([1, 1, 12]), mine), ShapeError, "batch");
  assert(state.length === 0);
  assertThrows(() => mixer.forward(randn([1, 0, 12])), ShapeError, "N ≥ 1");
});

test("agent manifest validates, cost counts the parameters the mixers create", () => {
  // in one process with the other suites (Bun) mod.ts may have registered it already
  if (!listPlugins().some((p) => p.name === plugin.name)) registerPlugin(plugin);
  for (
    const [s, config] of [
      [spec({ grid: [8, 8], classToken: true, qkvBias: true }), { agentNum: 9 }],
      [spec({ dim: 32, heads: 2, grid: [8, 8] }), { agentNum: 4, srRatio: 2, projection: "q_kv" }],
      [spec({ dim: 12, heads: 3, causal: true }), { agentNum: 5, kernelSize: 4 }],
    ] as const
  ) {
    using mixer = createAgentMixer(s, config);
    const params = [...mixer.parameters.values()].reduce((n, t) => n + numel(t.shape), 0);
    const cost = agentMixerCost(s, config, s.causal ? 100 : 64 + (s.classToken ? 1 : 0));
    assert(cost.params === params, `cost.params ${cost.params} vs ${params}`);
    assert(cost.flops > 0);
  }
  const c = spec({ dim: 64, heads: 4, causal: true });
  const ratio = agentMixerCost(c, {}, 8192).flops / agentMixerCost(c, {}, 4096).flops;
  assert(Math.abs(ratio - 2) < 1e-9, `causal cost is linear in N: ratio ${ratio}`);
  assert(fixtureConfig(FIXTURES[0]).agentNum === 9);
});
