// Matrix products on CUDA (cuBLASLt) and the CPU backend: f32 (full f32, not TF32), bf16 and f16
// with f32 accumulation, transposes, batches that broadcast; CUDA's fused bias/GELU epilogue of
// linear() and its per-shape plan cache.
import { fmtShape } from "../../core/tensor.ts";
import { ShapeError } from "../../core/errors.ts";
import { test } from "../_harness.ts";
import { assertClose, assertThrows } from "../_assert.ts";
import { matmulRef } from "./_reference.ts";
import { compare, gpu, type Run, sample, targets, values } from "./_setup.ts";

// [a, b, transA, transB]: odd M/N/K, broadcast batches on either side, a weight shared by a batch
const CASES: [number[], number[], boolean, boolean][] = [
  [[17, 33], [33, 9], false, false],
  [[33, 17], [33, 9], true, false],
  [[17, 33], [9, 33], false, true],
  [[3, 33, 17], [3, 9, 33], true, true],
  [[2, 3, 5, 129], [129, 7], false, false],
  [[1, 3, 5, 31], [2, 1, 31, 6], false, false],
  [[5, 31], [4, 31, 6], false, false],
  [[4, 1, 0], [0, 3], false, false],
];

test("matmul matches the f64 product (f32, bf16, f16; transposes; broadcast batches)", () => {
  const on = targets("matmul");
  if (on.length === 0) return;
  for (const dtype of ["f32", "bf16", "f16"] as const) {
    for (const [sa, sb, ta, tb] of CASES) {
      const a = sample(sa, dtype, 21), b = sample(sb, dtype, 22);
      const [va, vb] = values(a, b);
      const ref = matmulRef(va, sa, vb, sb, ta, tb);
      const k = ta ? sa.at(-2)! : sa.at(-1)!;
      compare(
        `matmul ${fmtShape(sa)}${ta ? "ᵀ" : ""} @ ${fmtShape(sb)}${tb ? "ᵀ" : ""} ${dtype}`,
        on,
        [a, b],
        (be, [x, y]) => be.matmul(x, y, { transA: ta, transB: tb }),
        ref,
        dtype,
        Math.sqrt(Math.max(k, 1)) * 4,
      );
      a.dispose();
      b.dispose();
    }
  }
});

test("matmul scale multiplies the f32 product before its one rounding (attention's q·kᵀ/√d)", () => {
  const on = targets("matmul scale");
  if (on.length === 0) return;
  for (const dtype of ["f32", "bf16"] as const) {
    const q = sample([2, 3, 17, 64], dtype, 26), k = sample([2, 3, 19, 64], dtype, 27);
    const [vq, vk] = values(q, k);
    const ref = matmulRef(vq, [2, 3, 17, 64], vk, [2, 3, 19, 64], false, true);
    compare(
      `matmul scale 0.125 ${dtype}`,
      on,
      [q, k],
      (be, [a, b]) => be.matmul(a, b, { transB: true, scale: 0.125 }),
      {
        shape: ref.shape,
        values: ref.values.map((v) => v * 0.125),
      },
      dtype,
      8,
    );
    q.dispose();
    k.dispose();
  }
});

test("linear fuses bias and tanh-GELU (cuBLASLt epilogue on cuda, one f32 pass on cpu)", () => {
  const on = targets("linear");
  if (on.length === 0) return;
  for (const dtype of ["f32", "bf16"] as const) {
    const x = sample([3, 5, 40], dtype, 23), w = sample([24, 40], dtype, 24), bias = sample([24], dtype, 25);
    const [vx, vw, vb] = values(x, w, bias);
    const ref = matmulRef(vx, [15, 40], vw, [24, 40], false, true).values;
    const k = Math.sqrt(2 / Math.PI);
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v ** 3)));
    const withBias = ref.map((v, i) => v + vb[i % 24]);
    const cases: [string, Run, Float64Array][] = [
      ["plain", (be, [a, b]) => be.linear(a, b), ref],
      ["bias", (be, [a, b, c]) => be.linear(a, b, { bias: c }), withBias],
      ["bias+gelu", (be, [a, b, c]) => be.linear(a, b, { bias: c, gelu: true }), withBias.map(gelu)],
      ["gelu", (be, [a, b]) => be.linear(a, b, { gelu: true }), ref.map(gelu)],
    ];
    for (const [label, run, want] of cases) {
      compare(`linear ${label} ${dtype}`, on, [x, w, bias], run, { shape: [3, 5, 24], values: want }, dtype, 25);
    }
    for (const t of [x, w, bias]) t.dispose();
  }
});

test("cuda matmul rejects mismatched inner dims and non-broadcasting batches with ShapeError", () => {
  const g = gpu("cuda matmul errors");
  if (!g) return;
  const a = g.fromHost(sample([2, 4, 5], "f32", 1)), b = g.fromHost(sample([3, 6, 7], "f32", 2));
  assertThrows(() => g.matmul(a, b), ShapeError, "matmul", "[2, 4, 5]", "[3, 6, 7]");
  const c = g.fromHost(sample([3, 5, 7], "f32", 3));
  assertThrows(() => g.matmul(a, c), ShapeError, "matmul", "broadcast");
  for (const t of [a, b, c]) t.dispose();
});

test("cuda repeated products of one shape reuse the cached cuBLASLt plan with new data and bias", () => {
  const g = gpu("cuda matmul plan cache");
  if (!g) return;
  const k = Math.sqrt(2 / Math.PI);
  const held = []; // kept alive so each round's buffers (the bias above all) sit at new addresses
  for (let round = 0; round < 3; round++) {
    const hx = sample([6, 19], "f32", 100 + round), hw = sample([10, 19], "f32", 200 + round);
    const hb = sample([10], "f32", 300 + round);
    const [vx, vw, vb] = values(hx, hw, hb);
    const ref = matmulRef(vx, [6, 19], vw, [10, 19], false, true).values.map((v, i) => v + vb[i % 10]);
    const [x, w, bias] = [g.fromHost(hx), g.fromHost(hw), g.fromHost(hb)];
    const out = g.linear(x, w, { bias, gelu: true });
    const want = ref.map((v) => 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v ** 3))));
    assertClose(out.toFloat32Array(), want, { rtol: 1e-5, atol: 1e-4 }, `round ${round}`);
    held.push(hx, hw, hb, x, w, bias, out);
  }
  for (const t of held) t.dispose();
});
