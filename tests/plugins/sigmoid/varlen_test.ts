// sigmoidAttentionVarlen on the CPU against sigmoidAttention called sequence by sequence on the
// same inputs (each sequence cut out of the packed tensors and made head-major with core ops):
// ragged lengths, nq ≠ nk (both ways), an empty query sequence, GQA, causal, ALiBi per head and
// per sequence·head, offsets as numbers and as an i32 tensor; and every argument check by name.
import { alibiSlopes } from "../../../core/alibi.ts";
import { ConfigError, DTypeError, ShapeError } from "../../../core/errors.ts";
import { narrow, permute } from "../../../core/ops.ts";
import { randn } from "../../../core/random.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { sigmoidAttention, sigmoidAttentionVarlen } from "../../../plugins/sigmoid/mod.ts";
import { assertEquals, assertRelativeError, assertThrows } from "../../_assert.ts";
import { test } from "../../_harness.ts";

// (nq, nk) per sequence: longer, shorter and equal key counts, one sequence without queries
const LENGTHS = [[5, 9], [7, 3], [0, 4], [6, 6], [1, 11]];
const [HEADS, KV_HEADS, D] = [4, 2, 8];
const offsets = (column: 0 | 1) => LENGTHS.reduce((acc, l) => [...acc, acc[acc.length - 1] + l[column]], [0]);
const CU_Q = offsets(0), CU_K = offsets(1);

/** Rows [start, start + n) of packed [total, heads, d] as [1, heads, n, d]. */
function sequence(x: Tensor, start: number, n: number): Tensor {
  using rows = narrow(x, 0, start, n);
  using headMajor = permute(rows, [1, 0, 2]);
  return headMajor.reshape([1, x.shape[1], n, x.shape[2]]);
}

/** The expected packed output: sigmoidAttention per sequence, written back at its rows. */
function perSequence(q: Tensor, k: Tensor, v: Tensor, options: { bias: number; causal: boolean }, slopes?: number[][]) {
  const out = new Float32Array(q.size);
  LENGTHS.forEach(([nq, nk], b) => {
    if (nq === 0) return;
    using qs = sequence(q, CU_Q[b], nq), ks = sequence(k, CU_K[b], nk), vs = sequence(v, CU_K[b], nk);
    const alibi = slopes === undefined ? undefined : Float32Array.from(slopes[b]);
    using o = sigmoidAttention(qs, ks, vs, { ...options, alibiSlopes: alibi });
    const values = o.toFloat32Array(); // [1, H, nq, d]
    for (let h = 0; h < HEADS; h++) {
      for (let i = 0; i < nq; i++) {
        out.set(values.subarray((h * nq + i) * D, (h * nq + i + 1) * D), ((CU_Q[b] + i) * HEADS + h) * D);
      }
    }
  });
  return out;
}

const inputs = () => ({
  q: randn([CU_Q[LENGTHS.length], HEADS, D], { seed: 11 }),
  k: randn([CU_K[LENGTHS.length], KV_HEADS, D], { seed: 12 }),
  v: randn([CU_K[LENGTHS.length], KV_HEADS, D], { seed: 13 }),
});

for (const causal of [false, true]) {
  for (const alibi of ["none", "head", "sequence·head"] as const) {
    test(`sigmoidAttentionVarlen (CPU) = sigmoidAttention per sequence: GQA 4/2, ragged, causal ${causal}, ALiBi ${alibi}`, () => {
      const { q, k, v } = inputs();
      using _q = q, _k = k, _v = v;
      const perHead = Array.from(alibiSlopes(HEADS));
      const slopes = alibi === "none"
        ? undefined
        : LENGTHS.map((_, b) => alibi === "head" ? perHead : perHead.map((s, h) => s * (1 + 0.3 * b) + 0.01 * h));
      const alibiSlopesArg = slopes === undefined
        ? undefined
        : alibi === "head"
        ? Float32Array.from(perHead)
        : tensor(Float32Array.from(slopes.flat()), { shape: [LENGTHS.length, HEADS] });
      const options = { bias: -Math.log(16), causal };
      using cuQ = tensor(Int32Array.from(CU_Q), { dtype: "i32" });
      // the three forms of offsets: an i32 tensor, numbers, an Int32Array
      const cuK = causal ? CU_K : Int32Array.from(CU_K);
      using out = sigmoidAttentionVarlen(q, k, v, cuQ, cuK, { ...options, alibiSlopes: alibiSlopesArg });
      assertEquals(out.shape, [CU_Q[LENGTHS.length], HEADS, D]);
      assertRelativeError(out.toFloat32Array(), perSequence(q, k, v, options, slopes), 1e-6, "packed vs per sequence");
    });
  }
}

test("sigmoidAttentionVarlen keeps sequences apart: changing one sequence's keys changes only its rows", () => {
  const { q, k, v } = inputs();
  using _q = q, _k = k, _v = v;
  const kValues = k.toFloat32Array();
  kValues.fill(3, CU_K[1] * KV_HEADS * D, CU_K[2] * KV_HEADS * D); // sequence 1's keys
  using k2 = tensor(kValues, { shape: k.shape });
  using a = sigmoidAttentionVarlen(q, k, v, CU_Q, CU_K, { bias: 0 });
  using b = sigmoidAttentionVarlen(q, k2, v, CU_Q, CU_K, { bias: 0 });
  const [x, y] = [a.toFloat32Array(), b.toFloat32Array()];
  for (let row = 0; row < CU_Q[LENGTHS.length]; row++) {
    const start = row * HEADS * D, end = start + HEADS * D;
    const changed = x.subarray(start, end).some((value, i) => value !== y[start + i]);
    assertEquals(changed, row >= CU_Q[1] && row < CU_Q[2], `row ${row}`);
  }
});

test("sigmoidAttentionVarlen names the bad argument", () => {
  const { q, k, v } = inputs();
  using _q = q, _k = k, _v = v;
  const call = (overrides: Partial<Record<"q" | "k" | "v" | "cuQ" | "cuK", unknown>>, options: object = {}) => () =>
    sigmoidAttentionVarlen(
      (overrides.q ?? q) as Tensor,
      (overrides.k ?? k) as Tensor,
      (overrides.v ?? v) as Tensor,
      (overrides.cuQ ?? CU_Q) as number[],
      (overrides.cuK ?? CU_K) as number[],
      { bias: -1, ...options },
    );
  using q4 = q.reshape([1, ...q.shape]);
  assertThrows(call({ q: q4 }), ShapeError, "packed [total, heads, d]");
  using vNarrow = narrow(v, 2, 0, 4);
  assertThrows(call({ v: vNarrow }), ShapeError, "k and v must be");
  using q3 = narrow(q, 1, 0, 3);
  assertThrows(call({ q: q3 }), ShapeError, "multiple of k's");
  assertThrows(call({ cuQ: [0, 5, 12] }), ShapeError, "cuSeqlensQ must end at the packed row count 19");
  assertThrows(call({ cuQ: [1, ...CU_Q.slice(1)] }), ShapeError, "cuSeqlensQ", "cuSeqlensQ[0] = 1");
  assertThrows(call({ cuK: [0, 9, 5, 33] }), ShapeError, "cuSeqlensK", "non-decreasing", "cuSeqlensK[2] = 5");
  assertThrows(call({ cuK: [0, 2.5, 33] }), ShapeError, "cuSeqlensK[1] = 2.5");
  assertThrows(call({ cuK: [0, 33] }), ShapeError, "cuSeqlensQ and cuSeqlensK must both hold B + 1 offsets");
  assertThrows(call({ cuK: [0, 9, 9, 13, 19, 33] }), ShapeError, "cuSeqlensK gives sequence 1 no keys");
  using floatOffsets = tensor(Float32Array.from(CU_Q));
  assertThrows(call({ cuQ: floatOffsets }), ShapeError, "cuSeqlensQ must be a 1-D i32 tensor");
  assertThrows(call({}, { bias: Number.NaN }), ConfigError, "bias");
  assertThrows(call({}, { scale: -1 }), ConfigError, "scale");
  assertThrows(call({}, { causal: "yes" }), ConfigError, "causal");
  assertThrows(call({}, { alibiSlopes: new Float32Array(3) }), ShapeError, "alibiSlopes");
  using kHalf = randn(k.shape, { seed: 1, dtype: "f16" });
  assertThrows(call({ k: kHalf }), DTypeError, "one float dtype");
});
