// Normalizations over the last dim: LayerNorm (biased variance) and RMSNorm.
import { ShapeError } from "../../errors.ts";
import { fmtShape, type Tensor } from "../../tensor.ts";
import { floatDType, output, readFloat, sameDType, shapes } from "./_io.ts";

function checkParams(op: string, x: Tensor, ...params: (Tensor | undefined)[]): number {
  floatDType(op, x);
  sameDType(op, x, ...params);
  if (x.ndim === 0) throw new ShapeError(op, `needs at least 1-d input, got ${fmtShape(x.shape)}`);
  const d = x.shape[x.ndim - 1];
  for (const p of params) {
    if (p !== undefined && (p.ndim !== 1 || p.shape[0] !== d)) {
      throw new ShapeError(op, `weight/bias must be [${d}] for input ${fmtShape(x.shape)}, got ${shapes(...params)}`);
    }
  }
  return d;
}

/** (x − mean) / sqrt(var + eps) · weight + bias over the last dim. */
export function layerNorm(x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps: number): Tensor {
  const d = checkParams("layerNorm", x, weight, bias);
  const input = readFloat("layerNorm", x);
  const w = weight === undefined ? undefined : readFloat("layerNorm", weight);
  const b = bias === undefined ? undefined : readFloat("layerNorm", bias);
  const out = output(x.shape, x.dtype);
  const values = out.values;
  for (let base = 0; base < values.length; base += d) {
    let total = 0;
    for (let j = 0; j < d; j++) total += input[base + j];
    const mu = total / d;
    let squares = 0;
    for (let j = 0; j < d; j++) squares += (input[base + j] - mu) ** 2;
    const inv = 1 / Math.sqrt(squares / d + eps);
    for (let j = 0; j < d; j++) {
      const v = (input[base + j] - mu) * inv;
      values[base + j] = (w === undefined ? v : v * w[j]) + (b === undefined ? 0 : b[j]);
    }
  }
  return out.finish();
}

/** x / sqrt(mean(x²) + eps) · weight over the last dim. */
export function rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Tensor {
  const d = checkParams("rmsNorm", x, weight);
  const input = readFloat("rmsNorm", x);
  const w = weight === undefined ? undefined : readFloat("rmsNorm", weight);
  const out = output(x.shape, x.dtype);
  const values = out.values;
  for (let base = 0; base < values.length; base += d) {
    let squares = 0;
    for (let j = 0; j < d; j++) squares += input[base + j] ** 2;
    const inv = 1 / Math.sqrt(squares / d + eps);
    for (let j = 0; j < d; j++) values[base + j] = input[base + j] * inv * (w === undefined ? 1 : w[j]);
  }
  return out.finish();
}
