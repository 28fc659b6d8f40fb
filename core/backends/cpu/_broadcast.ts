// NumPy/PyTorch broadcasting: the common shape and each input's strides over it.
import { ShapeError } from "../../errors.ts";
import { fmtShape } from "../../tensor.ts";

/** The broadcast shape of `a` and `b`, or a ShapeError naming `op` and both shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const ndim = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < ndim; i++) {
    const da = a[a.length - ndim + i] ?? 1;
    const db = b[b.length - ndim + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(op, `cannot broadcast ${fmtShape(a)} and ${fmtShape(b)}`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Row-major strides of `shape` seen through broadcast `target` (0 where a dim is broadcast). */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const strides = new Array<number>(target.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const t = target.length - shape.length + i;
    strides[t] = shape[i] === 1 && target[t] !== 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/** Offsets into an input with `strides` for every index of `target`, in row-major order. */
export function broadcastOffsets(strides: readonly number[], target: readonly number[]): Int32Array {
  let count = 1;
  for (const d of target) count *= d;
  const offsets = new Int32Array(count);
  const index = new Array<number>(target.length).fill(0);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    offsets[i] = offset;
    for (let d = target.length - 1; d >= 0; d--) {
      index[d]++;
      offset += strides[d];
      if (index[d] < target[d]) break;
      offset -= strides[d] * target[d];
      index[d] = 0;
    }
  }
  return offsets;
}
