// LRPE (values, offsets, relative-position property, θ init) and the released per-layer decay.
import { ConfigError, ShapeError } from "../../../core/errors.ts";
import { randn } from "../../../core/random.ts";
import { tensor } from "../../../core/tensor.ts";
import { layerDecayRates } from "../../../plugins/lightning/decay.ts";
import { applyLrpe, lrpeTheta } from "../../../plugins/lightning/lrpe.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { test } from "../../_harness.ts";

test("lrpe: θ init is 10000^(−2i/(H·d)) over the flat head-major index", () => {
  assertClose(lrpeTheta(2, 2).toFloat32Array(), [1, 10000 ** -0.5, 10000 ** -1, 10000 ** -1.5], { rtol: 1e-6 });
  assertEquals(lrpeTheta(4, 16).shape, [4, 1, 16]);
});

test("lrpe: x = 1 gives [cos(θt), sin(θt)], and an offset shifts t", () => {
  const theta = tensor([0.5, 0.25], { shape: [1, 1, 2] });
  const x = tensor(new Float32Array(6).fill(1), { shape: [1, 1, 3, 2] });
  const expected = [0, 1, 2].flatMap((
    t,
  ) => [Math.cos(0.5 * t), Math.cos(0.25 * t), Math.sin(0.5 * t), Math.sin(0.25 * t)]);
  assertClose(applyLrpe(x, theta).toFloat32Array(), expected, { rtol: 1e-6, atol: 1e-7 });
  const shifted = [4, 5, 6].flatMap((
    t,
  ) => [Math.cos(0.5 * t), Math.cos(0.25 * t), Math.sin(0.5 * t), Math.sin(0.25 * t)]);
  assertClose(applyLrpe(x, theta, 4).toFloat32Array(), shifted, { rtol: 1e-6, atol: 1e-7 });
});

test("lrpe: scores depend on relative positions only", () => {
  const [H, N, d] = [2, 6, 4];
  const theta = lrpeTheta(H, d);
  const q = randn([1, H, N, d], { seed: 1 });
  const k = randn([1, H, N, d], { seed: 2 });
  const scores = (offset: number) => {
    const qa = applyLrpe(q, theta, offset).toFloat32Array();
    const ka = applyLrpe(k, theta, offset).toFloat32Array();
    const out: number[] = [];
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < N; t++) {
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let c = 0; c < 2 * d; c++) acc += qa[(h * N + t) * 2 * d + c] * ka[(h * N + j) * 2 * d + c];
          out.push(acc);
        }
      }
    }
    return out;
  };
  assertClose(scores(17), scores(0), { rtol: 1e-4, atol: 1e-5 });
  // and they are Σ_c q_c k_c cos(θ_c (t − j))
  const [qa, ka, th] = [q.toFloat32Array(), k.toFloat32Array(), theta.toFloat32Array()];
  const direct: number[] = [];
  for (let h = 0; h < H; h++) {
    for (let t = 0; t < N; t++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let c = 0; c < d; c++) {
          acc += qa[(h * N + t) * d + c] * ka[(h * N + j) * d + c] * Math.cos(th[h * d + c] * (t - j));
        }
        direct.push(acc);
      }
    }
  }
  assertClose(scores(0), direct, { rtol: 1e-4, atol: 1e-5 });
});

test("lrpe: bad shapes and offsets are rejected", () => {
  const x = randn([1, 2, 3, 4]);
  assertThrows(() => applyLrpe(x, lrpeTheta(2, 3)), ShapeError, "applyLrpe", "[2, 1, 4]", "[2, 1, 3]");
  assertThrows(() => applyLrpe(randn([2, 3, 4]), lrpeTheta(2, 4)), ShapeError, "[B, H, N, d]");
  assertThrows(() => applyLrpe(x, lrpeTheta(2, 4), -1), ConfigError, "offset");
});

test("decay: ALiBi slopes scaled by 1 − l/(L−1) + 1e-5, first layer fastest", () => {
  const slopes = Array.from({ length: 8 }, (_, h) => 2 ** -(h + 1));
  assertClose(layerDecayRates(8, 0, 24), slopes.map((s) => s * (1 + 1e-5)), { rtol: 1e-12 });
  assertClose(layerDecayRates(8, 12, 24), slopes.map((s) => s * (1 - 12 / 23 + 1e-5)), { rtol: 1e-12 });
  assertClose(layerDecayRates(8, 23, 24), slopes.map((s) => s * 1e-5), { rtol: 1e-9 });
  // 6 heads: the 4 slopes of 4 heads, then every other slope of 8 heads
  assertClose(layerDecayRates(6, 0, 2), [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125].map((s) => s * (1 + 1e-5)), {
    rtol: 1e-12,
  });
});

test("decay: one-layer models and out-of-range layers are ConfigErrors", () => {
  assertThrows(() => layerDecayRates(8, 0, 1), ConfigError, "layers", "L >= 2");
  assertThrows(() => layerDecayRates(8, 3, 3), ConfigError, "layer", "[0, 3)");
});
