// Row-wise math of the token mixer over flat f32 arrays: the q/k feature maps and the output
// norms (SRMSNorm, LayerNorm), accumulated in f64. The Linear layers go through core matmul.
import type { Activation } from "./config.ts";

/** The feature map as a scalar function. */
export function activation(kind: Activation): (x: number) => number {
  switch (kind) {
    case "swish":
    case "silu":
      return (x) => x / (1 + Math.exp(-x));
    case "relu":
      return (x) => Math.max(x, 0);
    case "elu":
      return (x) => x > 0 ? x : Math.expm1(x);
    case "1+elu":
      return (x) => x > 0 ? 1 + x : Math.exp(x);
    case "sigmoid":
      return (x) => 1 / (1 + Math.exp(-x));
  }
}

/** SRMSNorm in place over rows of `width`: x / sqrt(mean(x²) + eps), no weight. */
export function srmsNormRows(x: Float32Array, width: number, eps: number): void {
  for (let r = 0; r < x.length; r += width) {
    let sq = 0;
    for (let i = 0; i < width; i++) sq += x[r + i] * x[r + i];
    const inv = 1 / Math.sqrt(sq / width + eps);
    for (let i = 0; i < width; i++) x[r + i] *= inv;
  }
}

/** LayerNorm in place over rows of `width` with an affine weight and bias (biased variance). */
export function layerNormRows(
  x: Float32Array,
  width: number,
  weight: Float32Array,
  bias: Float32Array,
  eps: number,
): void {
  for (let r = 0; r < x.length; r += width) {
    let mean = 0;
    for (let i = 0; i < width; i++) mean += x[r + i];
    mean /= width;
    let variance = 0;
    for (let i = 0; i < width; i++) variance += (x[r + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / width + eps);
    for (let i = 0; i < width; i++) x[r + i] = (x[r + i] - mean) * inv * weight[i] + bias[i];
  }
}
