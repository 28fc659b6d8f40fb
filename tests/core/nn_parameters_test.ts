// core/nn parameters and head layout: seeded trunc-normal init (draw order, truncation, the
// truncated std), constants, dtype; head geometry errors; split/merge of heads; head pair offsets.
import { ConfigError } from "../../core/errors.ts";
import { headGeometry, headPairs, initParameters, mergeHeads, splitHeads } from "../../core/nn/mod.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { Rng } from "../../core/random.ts";
import { tensor } from "../../core/tensor.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";

function spec(overrides: Partial<MixerSpec> = {}): MixerSpec {
  return { dim: 8, heads: 2, causal: false, layer: 0, layers: 1, dtype: "f32", device: "cpu", seed: 11, ...overrides };
}

test("initParameters: trunc-normal draws in list order from Rng(seed), constants draw nothing", () => {
  const params = initParameters(spec(), [
    { name: "a.weight", shape: [3, 4], init: "truncNormal" },
    { name: "a.bias", shape: [3], init: "zeros" },
    { name: "norm.weight", shape: [2], init: "ones" },
    { name: "b.weight", shape: [5], init: "truncNormal" },
  ]);
  assertEquals([...params.keys()], ["a.weight", "a.bias", "norm.weight", "b.weight"]);
  assertEquals([...params.values()].map((t) => [t.shape, t.dtype, t.device]), [
    [[3, 4], "f32", "cpu"],
    [[3], "f32", "cpu"],
    [[2], "f32", "cpu"],
    [[5], "f32", "cpu"],
  ]);
  // one generator, list order: a.weight takes the first 12 draws, b.weight the next 5
  const rng = new Rng(11);
  const draws = rng.fillTruncatedNormal(new Float32Array(17), 0.02);
  assertClose(params.get("a.weight")!.toFloat32Array(), draws.slice(0, 12), { rtol: 0, atol: 0 });
  assertClose(params.get("b.weight")!.toFloat32Array(), draws.slice(12), { rtol: 0, atol: 0 });
  assertEquals(params.get("a.bias")!.toArray(), [0, 0, 0]);
  assertEquals(params.get("norm.weight")!.toArray(), [1, 1]);
});

test("initParameters: values within ±0.04 with the std of N(0, 0.02²) truncated at ±2σ; dtype honoured", () => {
  const [w] = initParameters(spec({ seed: 3 }), [{ name: "w", shape: [200, 100], init: "truncNormal" }]).values();
  const x = w.toFloat32Array();
  assert(x.every((v) => Math.abs(v) <= 0.04), "a value beyond 2 std");
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const std = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length);
  // Var of N(0,1) truncated at ±2: 1 − 4φ(2)/(Φ(2) − Φ(−2)) = 0.77374
  const phi2 = Math.exp(-2) / Math.sqrt(2 * Math.PI);
  const expected = 0.02 * Math.sqrt(1 - (4 * phi2) / 0.9544997361);
  assert(Math.abs(std / expected - 1) < 0.02, `std ${std} vs ${expected}`);
  assert(Math.abs(mean) < 5e-4, `mean ${mean}`);
  const half = initParameters(spec({ dtype: "bf16" }), [{ name: "w", shape: [4], init: "ones" }]);
  assertEquals(half.get("w")!.dtype, "bf16");
});

test("headGeometry: heads, kvHeads, headDim, group; bad heads are ConfigErrors naming the field", () => {
  assertEquals(headGeometry("m", spec({ dim: 12, heads: 6, kvHeads: 2 })), {
    heads: 6,
    kvHeads: 2,
    headDim: 2,
    group: 3,
  });
  assertEquals(headGeometry("m", spec()).kvHeads, 2);
  assertThrows(() => headGeometry("test mixer", spec({ heads: 3 })), ConfigError, "test mixer", "heads", "8");
  assertThrows(() => headGeometry("m", spec({ heads: 0 })), ConfigError, "heads");
  assertThrows(() => headGeometry("m", spec({ heads: 2, kvHeads: 3 })), ConfigError, "kvHeads");
});

test("splitHeads: [B, N, H·d] → [B, H, N, d] element by element; mergeHeads inverts it", () => {
  const [B, N, H, d] = [2, 3, 2, 2];
  const values = Float32Array.from({ length: B * N * H * d }, (_, i) => i);
  const x = tensor(values, { shape: [B, N, H * d] });
  const split = splitHeads(x, H);
  assertEquals(split.shape, [B, H, N, d]);
  const got = split.toFloat32Array();
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let n = 0; n < N; n++) {
        for (let c = 0; c < d; c++) {
          assertEquals(got[((b * H + h) * N + n) * d + c], values[(b * N + n) * H * d + h * d + c]);
        }
      }
    }
  }
  const merged = mergeHeads(split);
  assertEquals(merged.shape, [B, N, H * d]);
  assertEquals([...merged.toFloat32Array()], [...values]);
});

test("headPairs: query head h of batch b reads key/value head ⌊h / group⌋ of batch b", () => {
  const g = { batch: 2, heads: 4, kvHeads: 2, nq: 3, nk: 5, d: 2, e: 7 };
  const pairs = [...headPairs(g)];
  assertEquals(pairs.length, 8);
  assertEquals(pairs[5], { index: 5, q: 5 * 3 * 2, k: (2 + 0) * 5 * 2, v: (2 + 0) * 5 * 7, o: 5 * 3 * 7 });
  assertEquals(pairs[3], { index: 3, q: 3 * 3 * 2, k: 1 * 5 * 2, v: 1 * 5 * 7, o: 3 * 3 * 7 });
});
