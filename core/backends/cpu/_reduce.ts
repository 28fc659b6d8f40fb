// Reductions along one dim: stable softmax, sum and mean (accumulated in doubles).
import type { Tensor } from "../../tensor.ts";
import { floatDType, output, readFloat, resolveDim, splitAt } from "./_io.ts";

/** softmax along `dim`: exp(x − max) / Σ exp(x − max); −∞ entries give 0. */
export function softmax(x: Tensor, dim = -1): Tensor {
  const dtype = floatDType("softmax", x);
  const d = resolveDim("softmax", dim, x.shape);
  const { outer, size, inner } = splitAt(x.shape, d);
  const input = readFloat("softmax", x);
  const out = output(x.shape, dtype);
  const values = out.values;
  const exps = new Float64Array(size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * size * inner + i;
      let max = -Infinity;
      for (let j = 0; j < size; j++) max = Math.max(max, input[base + j * inner]);
      let total = 0;
      for (let j = 0; j < size; j++) total += exps[j] = Math.exp(input[base + j * inner] - max);
      for (let j = 0; j < size; j++) values[base + j * inner] = exps[j] / total;
    }
  }
  return out.finish();
}

function reduce(op: string, x: Tensor, dim: number, keepdim: boolean, divide: boolean): Tensor {
  const dtype = floatDType(op, x);
  const d = resolveDim(op, dim, x.shape);
  const { outer, size, inner } = splitAt(x.shape, d);
  const input = readFloat(op, x);
  const shape = keepdim ? x.shape.map((s, i) => (i === d ? 1 : s)) : x.shape.filter((_, i) => i !== d);
  const out = output(shape, dtype);
  const values = out.values;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * size * inner + i;
      let total = 0;
      for (let j = 0; j < size; j++) total += input[base + j * inner];
      values[o * inner + i] = divide ? total / size : total;
    }
  }
  return out.finish();
}

/** Σ along `dim`. */
export function sum(x: Tensor, dim: number, keepdim = false): Tensor {
  return reduce("sum", x, dim, keepdim, false);
}

/** Mean along `dim` (NaN for an empty dim, as in PyTorch). */
export function mean(x: Tensor, dim: number, keepdim = false): Tensor {
  return reduce("mean", x, dim, keepdim, true);
}
