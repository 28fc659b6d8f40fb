/**
 * Seeded random tensors (xoshiro128** with a splitmix32 seed expansion), so that tests, examples
 * and random-weight models are reproducible on every runtime.
 *
 * @module
 */
import type { DType } from "./dtype.ts";
import { checkShape, numel, type Tensor, tensor } from "./tensor.ts";

/** A seeded generator of uniform and normal numbers. */
export class Rng {
  #s: Uint32Array;
  #spare: number | undefined;
  /** A generator whose sequence is fixed by `seed` (a 32-bit integer). */
  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s = new Uint32Array([next(), next(), next(), next()]);
  }

  /** Next 32 random bits. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /**
   * Fills `out` with N(0, std²) truncated at ±2 std, one uniform draw per value through the
   * truncated normal's inverse CDF (tabulated at 4096 points, interpolated linearly): about ten
   * times faster than rejection with Box–Muller, which matters for billion-parameter inits.
   */
  fillTruncatedNormal(out: Float32Array, std: number): Float32Array {
    const table = truncatedNormalQuantiles();
    for (let i = 0; i < out.length; i++) {
      const u = this.uniform() * QUANTILE_STEPS;
      const k = Math.floor(u);
      out[i] = std * (table[k] + (u - k) * (table[k + 1] - table[k]));
    }
    return out;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.#spare !== undefined) {
      const v = this.#spare;
      this.#spare = undefined;
      return v;
    }
    const u = 1 - this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

const QUANTILE_STEPS = 4096;
let quantiles: Float64Array | undefined;

/** Quantiles of N(0, 1) truncated to [−2, 2] at u = k / QUANTILE_STEPS, from the integrated density. */
function truncatedNormalQuantiles(): Float64Array {
  if (quantiles !== undefined) return quantiles;
  const steps = 1 << 18;
  const h = 4 / steps;
  const cdf = new Float64Array(steps + 1);
  const density = (x: number): number => Math.exp(-0.5 * x * x);
  for (let i = 1; i <= steps; i++) cdf[i] = cdf[i - 1] + 0.5 * h * (density(-2 + (i - 1) * h) + density(-2 + i * h));
  const table = new Float64Array(QUANTILE_STEPS + 1);
  table[0] = -2;
  table[QUANTILE_STEPS] = 2;
  for (let k = 1, i = 1; k < QUANTILE_STEPS; k++) {
    const target = (k / QUANTILE_STEPS) * cdf[steps];
    while (cdf[i] < target) i++;
    const t = (target - cdf[i - 1]) / (cdf[i] - cdf[i - 1]);
    table[k] = -2 + (i - 1 + t) * h;
  }
  quantiles = table;
  return table;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Options of the random tensor constructors. */
export interface RandomOptions {
  /** Seed; the same seed gives the same tensor on every runtime. Default 0. */
  seed?: number;
  /** Element type; default f32. */
  dtype?: DType;
}

/** Normal(mean, std²) samples as a CPU tensor. */
export function randn(
  shape: readonly number[],
  options: RandomOptions & { mean?: number; std?: number } = {},
): Tensor {
  checkShape("randn", shape);
  const rng = new Rng(options.seed ?? 0);
  const values = new Float32Array(numel(shape));
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  for (let i = 0; i < values.length; i++) values[i] = mean + std * rng.normal();
  return tensor(values, { shape, dtype: options.dtype ?? "f32" });
}

/** Uniform samples in [low, high) as a CPU tensor. */
export function rand(
  shape: readonly number[],
  options: RandomOptions & { low?: number; high?: number } = {},
): Tensor {
  checkShape("rand", shape);
  const rng = new Rng(options.seed ?? 0);
  const values = new Float32Array(numel(shape));
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  for (let i = 0; i < values.length; i++) values[i] = low + (high - low) * rng.uniform();
  return tensor(values, { shape, dtype: options.dtype ?? "f32" });
}
