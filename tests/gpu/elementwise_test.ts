// Elementwise ops on CUDA and the CPU backend (binary with broadcasting, affine, unary, GELU both
// forms, softplus, cast) against f64 references, f32 and bf16, on odd sizes that are no multiple
// of a block.
import { fmtShape, tensor } from "../../core/tensor.ts";
import type { UnaryOp } from "../../core/backend.ts";
import { bf16BitsToF32, f32ToBf16Bits } from "../../core/dtype.ts";
import { test } from "../_harness.ts";
import { binaryRef, erf } from "./_reference.ts";
import { compare, sample, targets, values } from "./_setup.ts";

const DTYPES = ["f32", "bf16"] as const;

const BINARY: [("add" | "sub" | "mul" | "div"), (a: number, b: number) => number][] = [
  ["add", (a, b) => a + b],
  ["sub", (a, b) => a - b],
  ["mul", (a, b) => a * b],
  ["div", (a, b) => a / b],
];

// [a, b]: equal shapes, trailing broadcast, middle broadcast on both sides, scalar-like. CUDA
// collapses each pair to a pattern: equal shapes (a whole number of 16-byte packs, or a tail),
// a bias row over the last dim (its width a multiple of the pack or not, on either side), a
// scalar on either side, or the per-element index path (column and middle broadcasts).
const BROADCASTS: [number[], number[]][] = [
  [[3, 37, 5], [3, 37, 5]],
  [[2, 3, 33], [33]],
  [[4, 1, 7], [1, 5, 1]],
  [[1031], [1]],
  [[64], [64]],
  [[4, 1, 16], [4, 1, 16]],
  [[2, 3, 32], [32]],
  [[1, 40], [5, 40]],
  [[1], [1031]],
  [[3, 40], [1, 1]],
  [[5, 1], [5, 16]],
  [[3, 1, 16], [3, 5, 16]],
];

test("binary ops broadcast like PyTorch (f32, bf16)", () => {
  const on = targets("binary");
  if (on.length === 0) return;
  for (const dtype of DTYPES) {
    for (const [op, f] of BINARY) {
      for (const [sa, sb] of BROADCASTS) {
        const a = sample(sa, dtype, 1), b = sample(sb, dtype, 2);
        if (op === "div") {
          // keep divisors away from 0 so the quotient's rounding is what is compared
          const shifted = b.toFloat32Array().map((v) => Math.sign(v || 1) * (Math.abs(v) + 0.5));
          b.hostData.set(dtype === "bf16" ? shifted.map(f32ToBf16Bits) : shifted);
        }
        const [va, vb] = values(a, b);
        const outShape = sa.length >= sb.length
          ? sa.map((d, i) => Math.max(d, sb[i - (sa.length - sb.length)] ?? 1))
          : sb.map((d, i) => Math.max(d, sa[i - (sb.length - sa.length)] ?? 1));
        compare(
          `${op} ${fmtShape(sa)} ${fmtShape(sb)} ${dtype}`,
          on,
          [a, b],
          (be, [x, y]) => be.binary(op, x, y),
          { shape: outShape, values: binaryRef(f, va, sa, vb, sb, outShape) },
          dtype,
        );
        a.dispose();
        b.dispose();
      }
    }
  }
});

const UNARY: [UnaryOp, (x: number) => number, number][] = [
  ["exp", Math.exp, 0],
  ["sigmoid", (x) => 1 / (1 + Math.exp(-x)), 0],
  ["relu", (x) => Math.max(x, 0), 0],
  ["tanh", Math.tanh, 0],
  ["silu", (x) => x / (1 + Math.exp(-x)), 0],
  ["neg", (x) => -x, 0],
  ["sqrt", Math.sqrt, 1], // positive inputs only (shift 1 → |x| + 0.1)
  ["rsqrt", (x) => 1 / Math.sqrt(x), 1],
  ["abs", Math.abs, 0],
  ["log", Math.log, 1],
  ["cos", Math.cos, 0],
  ["sin", Math.sin, 0],
];

test("unary ops, affine, gelu (erf and tanh) and softplus match f64 formulas", () => {
  const on = targets("unary");
  if (on.length === 0) return;
  for (const dtype of DTYPES) {
    const shape = [7, 131]; // 917 elements: whole 16-byte packs and a tail
    for (const [op, f, positive] of UNARY) {
      const x = sample(shape, dtype, 3, 2);
      if (positive) {
        const v = x.toFloat32Array().map((t) => Math.abs(t) + 0.1);
        x.hostData.set(dtype === "bf16" ? v.map(f32ToBf16Bits) : v);
      }
      const [vx] = values(x);
      compare(`${op} ${dtype}`, on, [x], (be, [t]) => be.unary(op, t), { shape, values: vx.map(f) }, dtype);
      x.dispose();
    }
    const x = sample(shape, dtype, 4, 3);
    const [vx] = values(x);
    compare(`affine ${dtype}`, on, [x], (be, [t]) => be.affine(t, -1.5, 0.25), {
      shape,
      values: vx.map((v) => v * -1.5 + 0.25),
    }, dtype);
    compare(`gelu erf ${dtype}`, on, [x], (be, [t]) => be.gelu(t, "none"), {
      shape,
      values: vx.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
    }, dtype);
    const k = Math.sqrt(2 / Math.PI);
    compare(`gelu tanh ${dtype}`, on, [x], (be, [t]) => be.gelu(t, "tanh"), {
      shape,
      values: vx.map((v) => 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v ** 3)))),
    }, dtype);
    // β = 2 and threshold 3 put some inputs on each side of the linear cut-over
    compare(`softplus ${dtype}`, on, [x], (be, [t]) => be.softplus(t, 2, 3), {
      shape,
      values: vx.map((v) => (2 * v > 3 ? v : Math.log1p(Math.exp(2 * v)) / 2)),
    }, dtype);
    x.dispose();
  }
});

test("cast rounds f32 → bf16 to nearest even and converts to and from i32", () => {
  const on = targets("cast");
  if (on.length === 0) return;
  // 1 + 2⁻⁸ is a tie between bf16 neighbours 1 and 1 + 2⁻⁷: ties go to the even pattern (1)
  const x = sample([5, 41], "f32", 5, 4);
  const host = x.hostData as Float32Array;
  host[0] = 1 + 2 ** -8;
  host[1] = 1 + 3 * 2 ** -8;
  host[2] = -7.75;
  const xs = Float64Array.from(host);
  compare("cast f32→bf16", on, [x], (be, [t]) => be.cast(t, "bf16"), {
    shape: [5, 41],
    values: xs.map((v) => bf16BitsToF32(f32ToBf16Bits(v))),
  }, "f32");
  const truncated = xs.map(Math.trunc);
  compare(
    "cast f32→i32 truncates",
    on,
    [x],
    (be, [t]) => be.cast(t, "i32"),
    { shape: [5, 41], values: truncated },
    "f32",
  );
  const ints = tensor(Int32Array.from(truncated), { shape: [5, 41] });
  compare("cast i32→f32", on, [ints], (be, [t]) => be.cast(t, "f32"), { shape: [5, 41], values: truncated }, "f32");
});
