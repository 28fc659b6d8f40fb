// Rotary position embedding, half-rotation layout (Llama's rotate_half), as kernels/rope.cu
// computes it: angles in f64, the rotation in f64, one rounding to the output dtype.
import type { Tensor } from "../../tensor.ts";
import { checkRope } from "../_lm_op_checks.ts";
import { floatDType, output, readFloat } from "./_io.ts";

/** x [..., N, d] with the pair (i, i + d/2) of token n turned by (offset + n) · θ^(−2i/d). */
export function rope(x: Tensor, offset: number, theta: number): Tensor {
  const dtype = floatDType("rope", x);
  checkRope(x, offset, theta);
  const dim = x.shape[x.ndim - 1];
  const tokens = x.shape[x.ndim - 2];
  const half = dim / 2;
  const logTheta = Math.log(theta);
  const src = readFloat("rope", x);
  const out = output(x.shape, dtype);
  const rows = x.size / dim;
  for (let row = 0; row < rows; row++) {
    const position = offset + (row % tokens);
    const base = row * dim;
    for (let i = 0; i < half; i++) {
      const angle = position * Math.exp((-2 * i / dim) * logTheta);
      const c = Math.cos(angle), s = Math.sin(angle);
      const a = src[base + i], b = src[base + i + half];
      out.values[base + i] = a * c - b * s;
      out.values[base + i + half] = b * c + a * s;
    }
  }
  return out.finish();
}
