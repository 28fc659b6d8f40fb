import { DTypeError, ShapeError } from "../../core/errors.ts";
import { layerNorm, mean, rmsNorm, softmax, sum } from "../../core/ops.ts";
import { tensor } from "../../core/tensor.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { flatIndex, indices, random } from "./_reference.ts";

// Reference reduction along `dim` in doubles: f maps the fiber's values to its outputs.
function alongDim(
  values: ArrayLike<number>,
  shape: number[],
  dim: number,
  f: (fiber: number[]) => number[],
): Map<string, number[]> {
  const fibers = new Map<string, number[]>();
  for (const index of indices(shape)) {
    const key = index.map((v, d) => (d === dim ? "*" : v)).join(",");
    if (!fibers.has(key)) fibers.set(key, []);
    fibers.get(key)!.push(values[flatIndex(shape, index)]);
  }
  return new Map([...fibers].map(([k, fiber]) => [k, f(fiber)]));
}

test("cpu softmax: every dim (negative too) matches exp/Σexp", () => {
  const shape = [3, 4, 5];
  using x = random(shape, 1);
  const xv = x.toTypedArray();
  for (const dim of [0, 1, 2, -1, -3]) {
    using y = softmax(x, dim);
    const d = (dim + 3) % 3;
    const ref = alongDim(xv, shape, d, (f) => {
      const e = f.map(Math.exp);
      const s = e.reduce((a, b) => a + b);
      return e.map((v) => v / s);
    });
    const expected: number[] = [];
    for (const index of indices(shape)) {
      expected.push(ref.get(index.map((v, k) => (k === d ? "*" : v)).join(","))![index[d]]);
    }
    assertClose(y.toTypedArray(), expected, { rtol: 1e-6, atol: 1e-7 }, `dim ${dim}`);
  }
});

test("cpu softmax: large values do not overflow, -Infinity entries get 0", () => {
  using x = tensor([[1000, 1001, 1002], [-Infinity, 0, -Infinity], [-1e30, 5, 5]]);
  using y = softmax(x);
  const e = [Math.exp(-2), Math.exp(-1), 1];
  const s = e[0] + e[1] + e[2];
  assertClose(y.toTypedArray(), [e[0] / s, e[1] / s, e[2] / s, 0, 1, 0, 0, 0.5, 0.5], { rtol: 1e-6, atol: 0 });
  assertThrows(() => softmax(x, 2), ShapeError, "softmax", "dim 2", "[3, 3]");
});

test("cpu sum/mean: along each dim, keepdim shapes, matching loops", () => {
  const shape = [2, 3, 4];
  using x = random(shape, 2);
  const xv = x.toTypedArray();
  for (const dim of [0, 1, 2, -1]) {
    const d = (dim + 3) % 3;
    using s = sum(x, dim);
    using m = mean(x, dim, true);
    assertEquals(s.shape, shape.filter((_, i) => i !== d));
    assertEquals(m.shape, shape.map((v, i) => (i === d ? 1 : v)));
    const ref = alongDim(xv, shape, d, (f) => [f.reduce((a, b) => a + b)]);
    const sums = [...ref.values()].map((v) => v[0]);
    assertClose(s.toTypedArray(), sums, { rtol: 1e-6, atol: 1e-6 }, `sum ${dim}`);
    assertClose(m.toTypedArray(), sums.map((v) => v / shape[d]), { rtol: 1e-6, atol: 1e-6 }, `mean ${dim}`);
  }
  using h = tensor([[1, 2, 3], [4, 5, 6]], { dtype: "bf16" });
  using hs = sum(h, 1);
  assertEquals(hs.dtype, "bf16");
  assertEquals([...hs.toTypedArray()], [6, 15]);
});

function refLayerNorm(row: number[], w: number[] | undefined, b: number[] | undefined, eps: number): number[] {
  const mu = row.reduce((a, v) => a + v) / row.length;
  const variance = row.reduce((a, v) => a + (v - mu) ** 2, 0) / row.length;
  return row.map((v, j) => ((v - mu) / Math.sqrt(variance + eps)) * (w?.[j] ?? 1) + (b?.[j] ?? 0));
}

test("cpu layerNorm: biased variance, optional weight and bias, constant rows", () => {
  using x = random([3, 2, 7], 3);
  using w = random([7], 4);
  using b = random([7], 5);
  const xv = [...x.toTypedArray()];
  const wv = [...w.toTypedArray()];
  const bv = [...b.toTypedArray()];
  for (const [weight, bias] of [[w, b], [w, undefined], [undefined, undefined]] as const) {
    using y = layerNorm(x, weight, bias, 1e-5);
    const expected: number[] = [];
    for (let r = 0; r < 6; r++) {
      expected.push(...refLayerNorm(xv.slice(r * 7, r * 7 + 7), weight && wv, bias && bv, 1e-5));
    }
    assertClose(y.toTypedArray(), expected, { rtol: 1e-5, atol: 1e-5 });
  }
  using constant = tensor([[3, 3, 3, 3], [1, 2, 3, 4]]);
  using bias4 = tensor([0.5, -0.5, 1, 0]);
  using y = layerNorm(constant, undefined, bias4, 1e-5);
  const yv = y.toTypedArray();
  assertClose(yv.subarray(0, 4), [0.5, -0.5, 1, 0], { rtol: 0, atol: 0 }, "constant row gives the bias, no NaN");
  // [1,2,3,4]: mean 2.5, biased variance 1.25
  const inv = 1 / Math.sqrt(1.25 + 1e-5);
  assertClose(yv.subarray(4), [-1.5 * inv + 0.5, -0.5 * inv - 0.5, 0.5 * inv + 1, 1.5 * inv], {
    rtol: 1e-6,
    atol: 1e-7,
  });
});

test("cpu rmsNorm: x / sqrt(mean x² + eps) · weight, with and without weight", () => {
  using x = tensor([[1, 2, 3, 4], [0, 0, 0, 0]]);
  using w = tensor([1, 0.5, 2, -1]);
  using y = rmsNorm(x, w, 1e-6);
  const r = Math.sqrt(7.5 + 1e-6);
  assertClose(y.toTypedArray(), [1 / r, 1 / r, 6 / r, -4 / r, 0, 0, 0, 0], { rtol: 1e-6, atol: 0 });
  using z = rmsNorm(x, undefined, 1e-6);
  assertClose(z.toTypedArray(), [1 / r, 2 / r, 3 / r, 4 / r, 0, 0, 0, 0], { rtol: 1e-6, atol: 0 });
});

test("cpu norms: wrong weight shapes, mixed dtypes and i32 inputs throw naming op and shapes", () => {
  using x = random([2, 5], 6);
  using w = random([4], 7);
  assertThrows(() => layerNorm(x, w), ShapeError, "layerNorm", "[2, 5]", "[4]");
  assertThrows(() => rmsNorm(x, w), ShapeError, "rmsNorm", "[2, 5]", "[4]");
  using wh = random([5], 8, "f16");
  assertThrows(() => layerNorm(x, wh), DTypeError, "layerNorm", "f32", "f16");
  using ids = tensor(new Int32Array([1, 2]));
  const err = assertThrows(() => sum(ids, 0), DTypeError, "sum", "i32", "[2]");
  assert(err.message.startsWith("sum:"), "message starts with the op");
});
