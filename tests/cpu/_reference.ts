// Independent references for the CPU backend tests: plain loops in doubles over flat arrays.
import type { DType } from "../../core/dtype.ts";
import { randn } from "../../core/random.ts";
import type { Tensor } from "../../core/tensor.ts";

/** A seeded standard-normal tensor. */
export function random(shape: readonly number[], seed: number, dtype: DType = "f32"): Tensor {
  return randn(shape, { seed, dtype });
}

/** C = A·B for row-major A [m, k] and B [k, n], summed in doubles. */
export function naiveMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

/** The transpose of a row-major [rows, cols] matrix. */
export function transposed(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j];
  return out;
}

/** Row-major flat index of `index` in `shape`. */
export function flatIndex(shape: readonly number[], index: readonly number[]): number {
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * shape[d] + index[d];
  return flat;
}

/** Every multi-index of `shape`, row-major. */
export function* indices(shape: readonly number[]): Generator<number[]> {
  const total = shape.reduce((a, b) => a * b, 1);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < total; i++) {
    yield [...index];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}
