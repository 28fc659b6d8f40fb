// sigmoidAttentionVarlen on CUDA (the FlashSigmoid varlen kernel) against its CPU path on the same
// inputs: ragged sequences with nq ≠ nk both ways and an empty query sequence, GQA, causal and not,
// ALiBi per head and per sequence·head, bf16 and f16, head dims 64, 96 and 128; offsets as
// numbers and as an i32 tensor on the device; f32 on CUDA takes the CPU path and comes back. Then the
// varlen backward kernels against the CPU reference backward of each sequence.
//
// Tolerance: relative L2 error 3e-2 in bf16 (tests/gpu/sigmoid_flash_test.ts argues it: one bf16
// ulp ≈ 8e-3, P rounded to bf16 before P·V), 4e-3 in f16 (3 more mantissa bits); a sequence read
// at the wrong rows or a mask misaligned gives errors of order 1.
import "../../mod.ts";
import { alibiSlopes } from "../../core/alibi.ts";
import { cast, concat, narrow, permute, toDevice } from "../../core/ops.ts";
import { randn } from "../../core/random.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import { getPlugin } from "../../core/registry.ts";
import { sigmoidAttentionBackward, sigmoidAttentionVarlen } from "../../plugins/sigmoid/mod.ts";
import { assertEquals, assertRelativeError } from "../_assert.ts";
import { test } from "../_harness.ts";
import { bf16OnCuda, gpu } from "./_setup.ts";

const LENGTHS = [[77, 130], [200, 64], [0, 9], [1, 300], [129, 129]];
const offsets = (column: 0 | 1) => LENGTHS.reduce((acc, l) => [...acc, acc[acc.length - 1] + l[column]], [0]);
const CU_Q = offsets(0), CU_K = offsets(1);
const [HEADS, KV_HEADS] = [8, 2];

/** Normal samples rounded to `dtype`, returned as the rounded host tensor and its CUDA copy. */
function rounded(shape: number[], dtype: "bf16" | "f16", seed: number): [Tensor, Tensor] {
  using x = randn(shape, { seed });
  const low = cast(x, dtype);
  return [low, toDevice(low, "cuda")];
}

for (const [dtype, d, tolerance] of [["bf16", 64, 3e-2], ["bf16", 128, 3e-2], ["f16", 96, 4e-3]] as const) {
  for (const causal of [false, true]) {
    test(`sigmoidAttentionVarlen on CUDA = its CPU path: ${dtype} d ${d}, GQA 8/2, ragged, causal ${causal}, ALiBi`, () => {
      if (gpu(`sigmoidAttentionVarlen ${dtype} d ${d}`) === undefined) return;
      const [q, qCuda] = rounded([CU_Q[LENGTHS.length], HEADS, d], dtype, 1);
      const [k, kCuda] = rounded([CU_K[LENGTHS.length], KV_HEADS, d], dtype, 2);
      const [v, vCuda] = rounded([CU_K[LENGTHS.length], KV_HEADS, d], dtype, 3);
      using _inputs = { [Symbol.dispose]: () => [q, qCuda, k, kCuda, v, vCuda].forEach((t) => t.dispose()) };
      const perHead = alibiSlopes(HEADS);
      // per head for the non-causal case, per sequence·head for the causal one
      const slopes = causal
        ? Float32Array.from({ length: LENGTHS.length * HEADS }, (_, i) => perHead[i % HEADS] * (1 + (i >> 3) / 4))
        : Float32Array.from(perHead);
      const options = { bias: -Math.log(4096), causal, alibiSlopes: slopes };
      using expected = sigmoidAttentionVarlen(q, k, v, CU_Q, CU_K, options);
      using cuQHost = tensor(Int32Array.from(CU_Q), { dtype: "i32" });
      using cuQ = toDevice(cuQHost, "cuda");
      using out = sigmoidAttentionVarlen(qCuda, kCuda, vCuda, cuQ, CU_K, options);
      assertEquals(out.device, "cuda");
      assertEquals(out.dtype, dtype);
      assertRelativeError(out.toFloat32Array(), expected.toFloat32Array(), tolerance, "cuda vs cpu");
    });
  }
}

test("sigmoidAttentionVarlen on CUDA in f32 (no kernel) takes the CPU path and returns a CUDA tensor", () => {
  if (gpu("sigmoidAttentionVarlen f32") === undefined) return;
  using q = randn([CU_Q[LENGTHS.length], 4, 32], { seed: 4 });
  using k = randn([CU_K[LENGTHS.length], 4, 32], { seed: 5 });
  using v = randn([CU_K[LENGTHS.length], 4, 32], { seed: 6 });
  using qCuda = toDevice(q, "cuda"), kCuda = toDevice(k, "cuda"), vCuda = toDevice(v, "cuda");
  using expected = sigmoidAttentionVarlen(q, k, v, CU_Q, CU_K, { bias: -2, causal: true });
  using out = sigmoidAttentionVarlen(qCuda, kCuda, vCuda, CU_Q, CU_K, { bias: -2, causal: true });
  assertEquals(out.device, "cuda");
  assertRelativeError(out.toFloat32Array(), expected.toFloat32Array(), 1e-6, "f32 on cuda vs cpu");
});

test("FlashSigmoid varlen backward kernels (single pass: automatic and mma.sync; deterministic) = the CPU reference backward of each sequence: bf16, GQA 8/2, ragged, causal, d 96", () => {
  const cuda = gpu("FlashSigmoid varlen backward");
  if (cuda === undefined) return;
  const kernels = cuda.pluginKernels(getPlugin("sigmoid"))!;
  const lengths = LENGTHS.filter(([nq]) => nq > 0);
  const cuQ = lengths.reduce((acc, l) => [...acc, acc[acc.length - 1] + l[0]], [0]);
  const cuK = lengths.reduce((acc, l) => [...acc, acc[acc.length - 1] + l[1]], [0]);
  const [totalQ, totalK, d, bias] = [cuQ[lengths.length], cuK[lengths.length], 96, -2];
  // packed inputs rounded to bf16 once, so the reference sees exactly what the kernels read
  const packed = [[totalQ, HEADS, 1], [totalK, KV_HEADS, 2], [totalK, KV_HEADS, 3], [totalQ, HEADS, 4]].map(
    ([rows, heads, seed]) => {
      using x = randn([rows, heads, d], { seed });
      using low = cast(x, "bf16");
      return cast(low, "f32");
    },
  );
  using q = packed[0], k = packed[1], v = packed[2], dOut = packed[3];
  // the reference per sequence, in its [1, H, N, d] layout, packed back to [rows, H, d]
  const perSequence: Tensor[][] = [[], [], []];
  for (let i = 0; i < lengths.length; i++) {
    const slice = (x: Tensor, offsets: number[]) => {
      using rows = narrow(x, 0, offsets[i], offsets[i + 1] - offsets[i]);
      using batch = rows.reshape([1, ...rows.shape]);
      return permute(batch, [0, 2, 1, 3]);
    };
    using qi = slice(q, cuQ), ki = slice(k, cuK), vi = slice(v, cuK), dOi = slice(dOut, cuQ);
    const grads = sigmoidAttentionBackward(qi, ki, vi, dOi, { bias, causal: true });
    [grads.dq, grads.dk, grads.dv].forEach((g, j) => {
      using rows = permute(g, [0, 2, 1, 3]);
      g.dispose();
      perSequence[j].push(rows.reshape(rows.shape.slice(1)));
    });
  }
  const expected = perSequence.map((parts) => {
    const joined = concat(parts, 0);
    parts.forEach((t) => t.dispose());
    return joined;
  });
  using _expected = { [Symbol.dispose]: () => expected.forEach((t) => t.dispose()) };
  using qd = bf16OnCuda(q), kd = bf16OnCuda(k), vd = bf16OnCuda(v), dOutD = bf16OnCuda(dOut);
  using cuQHost = tensor(Int32Array.from(cuQ), { dtype: "i32" });
  using cuKHost = tensor(Int32Array.from(cuK), { dtype: "i32" });
  using cuQd = toDevice(cuQHost, "cuda"), cuKd = toDevice(cuKHost, "cuda");
  using workspace = kernels.empty([totalQ * HEADS * d], "f32");
  const modes = [
    ["attnzoo_sigmoid_backward_varlen", 0],
    ["attnzoo_sigmoid_backward_varlen_mma", 0],
    ["attnzoo_sigmoid_backward_varlen", 1],
  ] as const;
  for (const [symbol, deterministic] of modes) {
    using dq = kernels.empty([totalQ, HEADS, d], "bf16");
    using dk = kernels.empty([totalK, KV_HEADS, d], "bf16");
    using dv = kernels.empty([totalK, KV_HEADS, d], "bf16");
    const status = kernels.symbols[symbol](
      2, // bf16
      ...[qd, kd, vd, dOutD, dq, dk, dv, workspace, cuQd, cuKd].map((t) => kernels.pointer(t)),
      lengths.length,
      HEADS,
      KV_HEADS,
      totalQ,
      Math.max(...lengths.map((l) => l[0])),
      Math.max(...lengths.map((l) => l[1])),
      d,
      1 / Math.sqrt(d),
      bias,
      1,
      0n,
      0,
      deterministic,
      kernels.stream,
    ) as number;
    const label = `${symbol}, deterministic ${deterministic}`;
    kernels.check(status, "sigmoid_backward_varlen", label);
    [dq, dk, dv].forEach((got, j) => {
      assertRelativeError(
        got.toFloat32Array(),
        expected[j].toFloat32Array(),
        3e-2,
        `${["dq", "dk", "dv"][j]}, ${label}`,
      );
    });
  }
});
