/**
 * ALiBi head slopes (Press et al.), shared by every family that uses them: softmax and sigmoid
 * add −slope·distance to scores, lightning turns them into per-head decay rates.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";
import { toDevice } from "./ops.ts";
import { type Device, type Tensor, tensor } from "./tensor.ts";

function powerOfTwoSlopes(n: number): number[] {
  const start = 2 ** (-(2 ** -(Math.log2(n) - 3)));
  return Array.from({ length: n }, (_, i) => start * start ** i);
}

/**
 * Slopes for `heads` heads: 2^(−8(h+1)/H) when H is a power of two; otherwise the slopes of the
 * closest smaller power of two followed by every other slope of twice that many, as ALiBi does.
 */
export function alibiSlopes(heads: number): Float64Array {
  if (!Number.isInteger(heads) || heads < 1) {
    throw new ConfigError("alibiSlopes", "heads", `must be a positive integer, got ${heads}`);
  }
  const p = 2 ** Math.floor(Math.log2(heads));
  const slopes = powerOfTwoSlopes(p);
  if (p !== heads) {
    const extra = powerOfTwoSlopes(2 * p).filter((_, i) => i % 2 === 0).slice(0, heads - p);
    slopes.push(...extra);
  }
  return Float64Array.from(slopes);
}

/**
 * `slopes` as the f32 tensor on `device` that fused attention kernels read: uploaded once for a
 * mixer's lifetime (which disposes it) instead of one host-to-device copy per attention call.
 */
export function slopesOnDevice(slopes: ArrayLike<number>, device: Device): Tensor {
  using host = tensor(Float32Array.from(slopes), { dtype: "f32" });
  return toDevice(host, device);
}
