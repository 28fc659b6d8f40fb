// Shape and dtype checks of the CUDA ops, with the same errors (op, shapes) the CPU backend gives,
// and the shape arithmetic the kernels need (broadcast strides, [outer, dim, inner] views).
import { DTypeError, ShapeError } from "../../errors.ts";
import { fmtShape, numel, type Tensor } from "../../tensor.ts";
import { MAX_DIMS } from "./_symbols.ts";

/** Throws DTypeError unless every tensor is f32, f16 or bf16 and they share that dtype. */
export function requireFloat(op: string, ...xs: (Tensor | undefined)[]): void {
  let first: Tensor | undefined;
  for (const x of xs) {
    if (x === undefined) continue;
    if (x.dtype === "i32") throw new DTypeError(op, `expects f32, f16 or bf16, got i32 ${fmtShape(x.shape)}`);
    if (first !== undefined && x.dtype !== first.dtype) {
      throw new DTypeError(
        op,
        `dtypes differ: ${first.dtype} ${fmtShape(first.shape)} and ${x.dtype} ${fmtShape(x.shape)}`,
      );
    }
    first ??= x;
  }
}

/** `dim` in [-ndim, ndim) normalised to [0, ndim), else ShapeError. */
export function normDim(op: string, dim: number, shape: readonly number[]): number {
  const n = shape.length;
  if (!Number.isInteger(dim) || dim < -n || dim >= n) {
    throw new ShapeError(op, `dim ${dim} out of range for ${fmtShape(shape)}`);
  }
  return dim < 0 ? dim + n : dim;
}

/** Throws ShapeError when a shape has more dims than the kernels' argument structs hold. */
export function requireMaxDims(op: string, shape: readonly number[]): void {
  if (shape.length > MAX_DIMS) throw new ShapeError(op, `${fmtShape(shape)} has more than ${MAX_DIMS} dims`);
}

/** NumPy broadcast of two shapes, or ShapeError naming both. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Element strides of `shape` read over `outShape` (right-aligned; 0 where broadcast). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = outShape.length - shape.length + i;
    strides[o] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/** The [outer, dim, inner] extents of `shape` around `dim`. */
export function splitAt(shape: readonly number[], dim: number): [number, number, number] {
  return [numel(shape.slice(0, dim)), shape[dim], numel(shape.slice(dim + 1))];
}

/** Throws ShapeError unless `x` has exactly `ndim` dims (`what` describes the expected layout). */
export function requireRank(op: string, x: Tensor, ndim: number, what: string): void {
  if (x.ndim !== ndim) throw new ShapeError(op, `expects ${what}, got ${fmtShape(x.shape)}`);
}

/** Throws ShapeError unless an optional per-channel parameter has shape [n]. */
export function requireVector(op: string, name: string, p: Tensor | undefined, n: number): void {
  if (p !== undefined && (p.ndim !== 1 || p.shape[0] !== n)) {
    throw new ShapeError(op, `${name} must be [${n}], got ${fmtShape(p.shape)}`);
  }
}

/** Throws ShapeError unless an output size is two positive integers. */
export function requireOutputSize(op: string, size: readonly [number, number]): void {
  if (size.length !== 2 || !size.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ShapeError(op, `output size must be two positive integers, got [${size.join(", ")}]`);
  }
}
