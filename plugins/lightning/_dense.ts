// Dense row-wise math of the token mixer over flat f32 arrays: Linear without bias, the q/k
// feature maps, and the output norms (SRMSNorm, LayerNorm), each accumulated in f64.
import type { Activation } from "./config.ts";

/** y = x Wᵀ for x [rows, in] and W [out, in] (PyTorch's Linear layout). */
export function linear(x: Float32Array, rows: number, w: Float32Array, out: number, inDim: number): Float32Array {
  const y = new Float32Array(rows * out);
  for (let r = 0; r < rows; r++) {
    const xr = r * inDim;
    for (let o = 0; o < out; o++) {
      const wo = o * inDim;
      let acc = 0;
      for (let i = 0; i < inDim; i++) acc += x[xr + i] * w[wo + i];
      y[r * out + o] = acc;
    }
  }
  return y;
}

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
