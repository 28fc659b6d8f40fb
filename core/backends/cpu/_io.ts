// Reading inputs as f32, writing outputs with one rounding, and the checks every op shares.
import { decodeHalf, type DType, encodeHalf } from "../../dtype.ts";
import { DTypeError, ShapeError } from "../../errors.ts";
import { CpuStorage, fmtShape, numel, Tensor } from "../../tensor.ts";

/**
 * The f32 values of a float tensor: f32 storage itself (read-only by convention), or f16/bf16
 * decoded into a shared buffer the matmul workers can read.
 */
export function readFloat(op: string, x: Tensor): Float32Array {
  const data = x.hostData;
  switch (x.dtype) {
    case "f32":
      return data as Float32Array;
    case "f16":
    case "bf16":
      return decodeHalf(x.dtype, data as Uint16Array, sharedFloat32(data.length));
    default:
      throw new DTypeError(op, `expects a floating tensor, got ${x.dtype} ${fmtShape(x.shape)}`);
  }
}

/** A zeroed Float32Array on a SharedArrayBuffer. */
export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

/** An output under construction: fill `values` (f32), then `finish()` rounds once to the dtype. */
export interface Output {
  values: Float32Array;
  finish(): Tensor;
}

/** A new output of `shape` and float `dtype`; f32 outputs are written in place. */
export function output(shape: readonly number[], dtype: DType): Output {
  const storage = new CpuStorage(dtype, numel(shape));
  if (dtype === "f32") {
    return { values: storage.data as Float32Array, finish: () => new Tensor(storage, shape) };
  }
  const values = sharedFloat32(storage.length);
  return {
    values,
    finish: () => {
      encodeHalf(dtype as "f16" | "bf16", values, storage.data as Uint16Array);
      return new Tensor(storage, shape);
    },
  };
}

/** Throws DTypeError unless every present tensor has the dtype of the first. */
export function sameDType(op: string, ...xs: (Tensor | undefined)[]): DType {
  const present = xs.filter((x): x is Tensor => x !== undefined);
  const dtype = present[0].dtype;
  if (present.some((x) => x.dtype !== dtype)) {
    throw new DTypeError(op, `dtypes differ: ${present.map((x) => `${x.dtype} ${fmtShape(x.shape)}`).join(", ")}`);
  }
  return dtype;
}

/** Throws DTypeError unless `x` is f32, f16 or bf16. */
export function floatDType(op: string, x: Tensor): DType {
  if (x.dtype === "i32") throw new DTypeError(op, `expects a floating tensor, got i32 ${fmtShape(x.shape)}`);
  return x.dtype;
}

/** Resolves a possibly negative dim of an `ndim`-d tensor; ShapeError when out of range. */
export function resolveDim(op: string, dim: number, shape: readonly number[]): number {
  const ndim = shape.length;
  if (!Number.isInteger(dim) || dim < -ndim || dim >= ndim) {
    throw new ShapeError(op, `dim ${dim} is out of range for shape ${fmtShape(shape)}`);
  }
  return dim < 0 ? dim + ndim : dim;
}

/** Products of the dims before and after `dim`, and its size. */
export function splitAt(shape: readonly number[], dim: number): { outer: number; size: number; inner: number } {
  return { outer: numel(shape.slice(0, dim)), size: shape[dim], inner: numel(shape.slice(dim + 1)) };
}

/** Formats several shapes for error messages: `[2, 3] and [4]`. */
export function shapes(...xs: (Tensor | undefined)[]): string {
  return xs.filter((x): x is Tensor => x !== undefined).map((x) => fmtShape(x.shape)).join(" and ");
}
