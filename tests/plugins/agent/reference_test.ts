// The vision-form reference: its core against a naive two-softmax formula, its grid helpers
// against PyTorch's rules worked by hand, and its errors.
import { assert, assertClose, assertThrows } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { ConfigError, ShapeError } from "../../../core/errors.ts";
import { randn } from "../../../core/random.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { adaptivePoolTokens, resizeBilinearPlanes } from "../../../plugins/agent/_grid.ts";
import {
  agentAttention,
  AgentConfigSchema,
  agentGeometry,
  agentLayerReference,
  agentParameterShapes,
  parseAgentConfig,
} from "../../../plugins/agent/mod.ts";

/** softmax(s·X Yᵀ + bias) Z for one head, as nested arrays. */
function naiveAttention(x: number[][], y: number[][], z: number[][], s: number, bias?: number[][]): number[][] {
  return x.map((xi, i) => {
    const logits = y.map((yj, j) => s * xi.reduce((acc, v, t) => acc + v * yj[t], 0) + (bias ? bias[i][j] : 0));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const total = e.reduce((a, b) => a + b, 0);
    return z[0].map((_, c) => e.reduce((acc, w, j) => acc + (w / total) * z[j][c], 0));
  });
}

function rows(t: Tensor, b: number, h: number): number[][] {
  return (t.toArray() as number[][][][])[b][h].map((r) => [...r]);
}

test("agentAttention equals softmax(Q Aᵀ+B2)·softmax(A Kᵀ+B1)·V computed naively", () => {
  const [b, h, nq, nk, n, d, e] = [2, 2, 5, 7, 3, 4, 6];
  const q = randn([b, h, nq, d], { seed: 1 });
  const k = randn([b, h, nk, d], { seed: 2 });
  const v = randn([b, h, nk, e], { seed: 3 });
  const agents = randn([b, h, n, d], { seed: 4 });
  const agentBias = randn([h, n, nk], { seed: 5 });
  const queryBias = randn([h, nq, n], { seed: 6 });
  const out = agentAttention(q, k, v, agents, { agentBias, queryBias, scale: 0.7 });
  assert(out.shape.join() === [b, h, nq, e].join(), `shape ${out.shape}`);
  const got = out.toArray() as number[][][][];
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const b1 = (agentBias.toArray() as number[][][])[hi];
      const b2 = (queryBias.toArray() as number[][][])[hi];
      const agentV = naiveAttention(rows(agents, bi, hi), rows(k, bi, hi), rows(v, bi, hi), 0.7, b1);
      const expected = naiveAttention(rows(q, bi, hi), rows(agents, bi, hi), agentV, 0.7, b2);
      assertClose(got[bi][hi].flat(), expected.flat(), { rtol: 1e-5, atol: 1e-6 }, `b${bi} h${hi}`);
    }
  }
});

test("agentAttention rows are convex combinations: constant values pass through", () => {
  const q = randn([1, 2, 6, 4], { seed: 7, std: 3 });
  const k = randn([1, 2, 9, 4], { seed: 8, std: 3 });
  const v = tensor(new Float32Array(2 * 9 * 3).fill(2.5), { shape: [1, 2, 9, 3] });
  const agents = randn([1, 2, 4, 4], { seed: 9, std: 3 });
  assertClose(agentAttention(q, k, v, agents).toFloat32Array(), new Float32Array(2 * 6 * 3).fill(2.5), {
    rtol: 1e-6,
  });
});

test("agentAttention rejects mismatched shapes, empty sequences and wrong bias shapes", () => {
  const q = randn([1, 2, 4, 8]);
  const k = randn([1, 2, 5, 8]);
  const a = randn([1, 2, 3, 8]);
  assertThrows(() => agentAttention(q, k, randn([1, 2, 4, 8]), a), ShapeError, "agentAttention", "[1, 2, 4, 8]");
  assertThrows(() => agentAttention(randn([1, 2, 0, 8]), k, k, a), ShapeError, "empty");
  assertThrows(() => agentAttention(q, k, k, a, { agentBias: randn([2, 3, 4]) }), ShapeError, "agentBias", "[2, 3, 5]");
  assertThrows(() => agentAttention(q, randn([2, 8]), k, a), ShapeError, "4-d");
});

test("adaptive pool uses PyTorch's overlapping bins: 7 → 3 averages [0,3) [2,5) [4,7)", () => {
  const x = Float64Array.from({ length: 7 }, (_, i) => i * i); // one row of 7 tokens, 1 channel
  const out = adaptivePoolTokens(x, 1, 1, 7, 1, 3);
  assertClose(out, [(0 + 1 + 4) / 3, (4 + 9 + 16) / 3, (16 + 25 + 36) / 3]);
  const exact = adaptivePoolTokens(Float64Array.from([1, 2, 3, 4]), 1, 2, 2, 1, 1);
  assertClose(exact, [2.5]);
});

test("bilinear resize follows PyTorch: align_corners false clamps at 0, true spans the corners", () => {
  const x = Float64Array.from([0, 1]); // 1 × 2 plane
  assertClose(resizeBilinearPlanes(x, 1, 1, 2, 1, 4), [0, 0.25, 0.75, 1]);
  assertClose(resizeBilinearPlanes(x, 1, 1, 2, 1, 3, true), [0, 0.5, 1]);
  // downsampling 7 → 3 without antialias: src = (i + 0.5)·7/3 − 0.5 = 0.6667, 3, 5.3333
  const ramp = Float64Array.from({ length: 7 }, (_, i) => 10 * i);
  assertClose(resizeBilinearPlanes(ramp, 1, 1, 7, 1, 3), [20 / 3, 30, 160 / 3], { rtol: 1e-12 });
  const identity = Float64Array.from({ length: 49 }, (_, i) => Math.sin(i));
  assertClose(resizeBilinearPlanes(identity, 1, 7, 7, 7, 7), identity, { rtol: 0, atol: 0 });
});

test("config: defaults, perfect-square agents, heads dividing C, grid needed, windows tiling", () => {
  const cfg = parseAgentConfig({});
  assert(cfg.agentNum === 49 && cfg.shift === 0 && cfg.srRatio === 1 && cfg.projection === "qkv");
  assert(cfg.kernelSize === 3 && cfg.window === undefined);
  const spec = { dim: 48, heads: 3, grid: [8, 8] as [number, number] };
  assertThrows(() => agentGeometry(spec, parseAgentConfig({ agentNum: 10 })), ConfigError, "agentNum", "square");
  assertThrows(() => agentGeometry({ ...spec, heads: 5 }, cfg), ConfigError, "heads", "48");
  assertThrows(() => agentGeometry({ dim: 48, heads: 3 }, cfg), ConfigError, "grid");
  assertThrows(() => agentGeometry(spec, parseAgentConfig({ window: 3 })), ConfigError, "window", "[8, 8]");
  assertThrows(() => agentGeometry(spec, parseAgentConfig({ srRatio: 2 })), ConfigError, "srRatio", "q_kv");
  assertThrows(
    () => agentGeometry(spec, parseAgentConfig({ srRatio: 3, projection: "q_kv" })),
    ConfigError,
    "srRatio",
    "does not divide",
  );
  assertThrows(() => agentGeometry({ ...spec, classToken: true }, parseAgentConfig({ window: 4 })), ConfigError);
  const clamped = agentGeometry(spec, parseAgentConfig({ window: 56, shift: 3 }));
  assert(clamped.window.join() === "8,8" && clamped.shift === 0, "a window beyond the grid is the grid, unshifted");
  assertThrows(() => agentGeometry(spec, parseAgentConfig({ window: 4, shift: 4 })), ConfigError, "shift");
  assertThrows(() => parseAgentConfig({ agentNum: 0 }), ConfigError, "agentNum");
  assertThrows(() => parseAgentConfig({ agents: 9 }), ConfigError);
  assert(AgentConfigSchema.safeParse({ projection: "kv" }).success === false);
});

test("parameter shapes follow the official layers (DeiT class-token biases, PVT sr and norm)", () => {
  const deit = agentGeometry({ dim: 48, heads: 3, grid: [8, 8], classToken: true }, parseAgentConfig({ agentNum: 9 }));
  const shapes = agentParameterShapes(deit, true);
  assert(JSON.stringify(shapes.get("ah_bias")) === "[1,3,9,8,1]", "ah_bias");
  assert(JSON.stringify(shapes.get("wa_bias")) === "[1,3,1,8,9]", "wa_bias");
  assert(JSON.stringify(shapes.get("ac_bias")) === "[1,3,9,1]" && shapes.has("ca_bias"), "class token biases");
  const pvt = agentGeometry(
    { dim: 32, heads: 2, grid: [8, 8] },
    parseAgentConfig({ agentNum: 4, srRatio: 2, projection: "q_kv" }),
  );
  const p = agentParameterShapes(pvt, true);
  assert(JSON.stringify(p.get("ah_bias")) === "[1,2,4,4,1]" && JSON.stringify(p.get("ha_bias")) === "[1,2,8,1,4]");
  assert(JSON.stringify(p.get("sr.weight")) === "[32,32,2,2]" && p.has("norm.bias") && !p.has("qkv.weight"));
});

test("layer reference names the expected shape on a wrong token count", () => {
  const g = agentGeometry({ dim: 8, heads: 2, grid: [4, 4], classToken: true }, parseAgentConfig({ agentNum: 4 }));
  assertThrows(() => agentLayerReference(randn([1, 16, 8]), new Map(), g), ShapeError, "[B, 17, 8]");
});

test("agent count different from the config is rejected through the parameter shapes", () => {
  const g = agentGeometry({ dim: 8, heads: 2, grid: [4, 4] }, AgentConfigSchema.parse({ agentNum: 4 }));
  const params = new Map<string, Tensor>();
  for (const [name, shape] of agentParameterShapes(g, true)) params.set(name, randn(shape));
  params.set("an_bias", randn([2, 9, 7, 7]));
  assertThrows(() => agentLayerReference(randn([1, 16, 8]), params, g), ShapeError, "an_bias", "[2, 4, 7, 7]");
});
