/**
 * LRPE (linearized relative positional encoding) as TransNormerLLM applies it to q and k of its
 * first layer: x [B, H, N, d] → concat(x·cos(θ·t), x·sin(θ·t)) [B, H, N, 2d] with t the absolute
 * position (offset + index). Since cos(θt)cos(θj) + sin(θt)sin(θj) = cos(θ(t − j)), the scores
 * depend on relative positions only. θ [H, 1, d] is a learnable parameter initialised to
 * 10000^(−2i/(H·d)) for the flat index i = h·d + c, as the official `Lrpe` module does.
 *
 * @module
 */
import type { DType } from "../../core/dtype.ts";
import { ConfigError, ShapeError } from "../../core/errors.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";

/** The official initial θ, [H, 1, d]. */
export function lrpeTheta(heads: number, headDim: number, dtype: DType = "f32"): Tensor {
  const total = heads * headDim;
  const step = Math.fround(-2 / total);
  const values = new Float32Array(total);
  // f32 exponent as torch computes it (python float × int64 arange → float32)
  for (let i = 0; i < total; i++) values[i] = Math.pow(10000, Math.fround(step * i));
  return tensor(values, { shape: [heads, 1, headDim], dtype });
}

/**
 * LRPE over flat rows: x [B, H, N, d] (as f32 values) → [B, H, N, 2d]. The angle θ·t is rounded
 * to f32 as in the official code, which forms it in the activation dtype.
 */
export function lrpeRows(
  x: Float32Array,
  batch: number,
  heads: number,
  length: number,
  d: number,
  theta: Float32Array,
  offset: number,
): Float32Array {
  const out = new Float32Array(x.length * 2);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < length; t++) {
        const row = ((b * heads + h) * length + t) * d;
        for (let c = 0; c < d; c++) {
          const angle = Math.fround(theta[h * d + c] * (t + offset));
          out[2 * row + c] = x[row + c] * Math.cos(angle);
          out[2 * row + d + c] = x[row + c] * Math.sin(angle);
        }
      }
    }
  }
  return out;
}

/** Applies LRPE to x [B, H, N, d] with θ [H, 1, d]; token i sits at position offset + i. */
export function applyLrpe(x: Tensor, theta: Tensor, offset = 0): Tensor {
  const op = "applyLrpe";
  if (x.ndim !== 4) throw new ShapeError(op, `x must be [B, H, N, d]; got ${fmtShape(x.shape)}`);
  const [batch, heads, length, d] = x.shape;
  if (theta.ndim !== 3 || theta.shape[0] !== heads || theta.shape[1] !== 1 || theta.shape[2] !== d) {
    throw new ShapeError(
      op,
      `theta must be [H, 1, d] = ${fmtShape([heads, 1, d])} for x ${fmtShape(x.shape)}; got ${fmtShape(theta.shape)}`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new ConfigError(op, "offset", `must be a non-negative integer, got ${offset}`);
  }
  const out = lrpeRows(x.toFloat32Array(), batch, heads, length, d, theta.toFloat32Array(), offset);
  return tensor(out, { shape: [batch, heads, length, 2 * d], dtype: x.dtype });
}
