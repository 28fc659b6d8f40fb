// Gradients of causal lightning attention: the naive sums match central finite differences of the
// forward, the blocked backward matches the naive one for every block size, and both match the
// official torch reference's autograd gradients.
import { DTypeError, ShapeError } from "../../../core/errors.ts";
import { randn } from "../../../core/random.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { lightningBackwardBlocked, lightningBackwardNaive } from "../../../plugins/lightning/backward.ts";
import { lightningAttentionNaive } from "../../../plugins/lightning/reference.ts";
import { assertClose, assertRelativeError, assertThrows, relativeError } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { pick, randomQkv, readFixture } from "./_fixture.ts";

const RATES = [0.4, 0.05];

/** ∂(Σ o ⊙ dO)/∂x by central differences, every element of x. */
function finiteDifference(inputs: Tensor[], which: number, s: number[], dO: Float32Array): Float32Array {
  const base = inputs[which].toFloat32Array();
  const grad = new Float32Array(base.length);
  const h = 0.25; // the loss is linear in each input, so only rounding limits the step
  const loss = (values: Float32Array): number => {
    const args = inputs.map((x, i) => i === which ? tensor(values, { shape: x.shape }) : x);
    const o = lightningAttentionNaive(args[0], args[1], args[2], s).toFloat32Array();
    let acc = 0;
    for (let i = 0; i < o.length; i++) acc += o[i] * dO[i];
    return acc;
  };
  for (let i = 0; i < base.length; i++) {
    const plus = base.slice();
    const minus = base.slice();
    plus[i] += h;
    minus[i] -= h;
    grad[i] = (loss(plus) - loss(minus)) / (2 * h);
  }
  return grad;
}

test("lightning backward: naive gradients equal central finite differences", () => {
  const { q, k, v } = randomQkv(1, 2, 7, 3, 2, 100);
  const dO = randn([1, 2, 7, 2], { seed: 103 });
  const grads = lightningBackwardNaive(q, k, v, RATES, dO);
  const dOa = dO.toFloat32Array();
  for (const [i, name, g] of [[0, "dq", grads.dq], [1, "dk", grads.dk], [2, "dv", grads.dv]] as const) {
    assertClose(g.toFloat32Array(), finiteDifference([q, k, v], i, RATES, dOa), { rtol: 1e-3, atol: 1e-4 }, name);
  }
});

test("lightning backward: blocked equals naive for block sizes that do and do not divide N", () => {
  for (const n of [1, 9, 37]) {
    const { q, k, v } = randomQkv(2, 2, n, 5, 4, 200 + n);
    const dO = randn([2, 2, n, 4], { seed: 300 + n });
    const naive = lightningBackwardNaive(q, k, v, RATES, dO);
    for (const block of [1, 3, 8, 64]) {
      const blocked = lightningBackwardBlocked(q, k, v, RATES, dO, block);
      for (const key of ["dq", "dk", "dv"] as const) {
        assertRelativeError(
          blocked[key].toFloat32Array(),
          naive[key].toFloat32Array(),
          1e-6,
          `N ${n} block ${block} ${key}`,
        );
      }
    }
  }
});

test("lightning backward: official torch autograd parity", () => {
  const f = readFixture("functional");
  const [q, k, v, s, dO] = ["q", "k", "v", "s", "do"].map((key) => pick(f, key));
  const naive = lightningBackwardNaive(q, k, v, s, dO);
  const blocked = lightningBackwardBlocked(q, k, v, s, dO, 16);
  for (const key of ["dq", "dk", "dv"] as const) {
    const expected = pick(f, key).toFloat32Array();
    const err = relativeError(blocked[key].toFloat32Array(), expected);
    console.log(`official autograd ${key}: rel err blocked ${err.toExponential(2)}`);
    assertRelativeError(naive[key].toFloat32Array(), expected, 1e-6, `naive ${key}`);
    assertRelativeError(blocked[key].toFloat32Array(), expected, 1e-6, `blocked ${key}`);
  }
});

test("lightning backward: official Triton backward agrees within its TF32 precision", () => {
  const f = readFixture("functional");
  const triton = readFixture("triton");
  const [q, k, v, s, dO] = ["q", "k", "v", "s", "do"].map((key) => pick(f, key));
  const blocked = lightningBackwardBlocked(q, k, v, s, dO);
  for (const key of ["dq", "dk", "dv"] as const) {
    const err = relativeError(blocked[key].toFloat32Array(), pick(triton, key).toFloat32Array());
    console.log(`official Triton ${key}: rel err ${err.toExponential(2)}`);
    assertRelativeError(blocked[key].toFloat32Array(), pick(triton, key).toFloat32Array(), 5e-3, key);
  }
});

test("lightning backward: a wrong dOut is rejected with its shape", () => {
  const { q, k, v } = randomQkv(1, 2, 4, 3, 2, 400);
  assertThrows(
    () => lightningBackwardNaive(q, k, v, RATES, randn([1, 2, 4, 3])),
    ShapeError,
    "[1, 2, 4, 2]",
    "[1, 2, 4, 3]",
  );
  const bf16 = tensor(new Float32Array(16), { shape: [1, 2, 4, 2], dtype: "bf16" });
  assertThrows(() => lightningBackwardBlocked(q, k, v, RATES, bf16), DTypeError, "lightningBackwardBlocked", "bf16");
});
