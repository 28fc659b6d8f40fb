// f16/bf16 inputs: every op decodes, computes in f32 and rounds once to the input dtype, so its
// bits equal the f32 op on the decoded values rounded to the dtype.
import type { DType } from "../../core/dtype.ts";
import * as ops from "../../core/ops.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import { assertEquals } from "../_assert.ts";
import { test } from "../_harness.ts";
import { random } from "./_reference.ts";

function widen(x: Tensor): Tensor {
  return tensor(x.toTypedArray(), { shape: x.shape });
}

function checkRoundsOnce(dtype: DType, name: string, f: (...xs: Tensor[]) => Tensor, ...inputs: Tensor[]): void {
  using half = f(...inputs);
  const wide = inputs.map(widen);
  using full = f(...wide);
  using expected = tensor(full.toTypedArray(), { shape: full.shape, dtype });
  wide.forEach((t) => t.dispose());
  assertEquals(half.dtype, dtype, name);
  assertEquals([...half.hostData], [...expected.hostData], `${dtype} ${name}`);
}

for (const dtype of ["f16", "bf16"] as const) {
  test(`cpu ${dtype}: ops compute in f32 and round once`, () => {
    using x = random([2, 3, 6, 6], 1, dtype);
    using y = random([2, 3, 6, 6], 2, dtype);
    using w = random([6], 3, dtype);
    using k = random([3, 1, 3, 3], 4, dtype);
    using k1 = random([3, 1, 4], 5, dtype);
    using seq = random([2, 3, 6], 6, dtype);
    checkRoundsOnce(dtype, "add", ops.add, x, y);
    checkRoundsOnce(dtype, "div", ops.div, x, w);
    checkRoundsOnce(dtype, "silu", ops.silu, x);
    checkRoundsOnce(dtype, "gelu", (a) => ops.gelu(a), x);
    checkRoundsOnce(dtype, "softplus", (a) => ops.softplus(a), x);
    checkRoundsOnce(dtype, "affine", (a) => ops.affine(a, 0.3, 0.1), x);
    checkRoundsOnce(dtype, "softmax", (a) => ops.softmax(a, 1), x);
    checkRoundsOnce(dtype, "mean", (a) => ops.mean(a, -1), x);
    checkRoundsOnce(dtype, "layerNorm", (a, b) => ops.layerNorm(a, b, b), x, w);
    checkRoundsOnce(dtype, "rmsNorm", (a, b) => ops.rmsNorm(a, b), x, w);
    checkRoundsOnce(dtype, "conv2d", (a, b) => ops.conv2d(a, b, undefined, { padding: 1, groups: 3 }), x, k);
    checkRoundsOnce(dtype, "causalConv1d", (a, b) => ops.causalConv1d(a, b), seq, k1);
    checkRoundsOnce(dtype, "adaptiveAvgPool2d", (a) => ops.adaptiveAvgPool2d(a, [4, 4]), x);
    checkRoundsOnce(dtype, "resizeBilinear", (a) => ops.resizeBilinear(a, [9, 5]), x);
  });
}
