// Copies that move elements without arithmetic (any dtype, bit patterns kept): device transfer,
// cast, clone, permute, concat, narrow and embedding lookup.
import { type DType, DTYPES } from "../../dtype.ts";
import { DTypeError, ShapeError } from "../../errors.ts";
import { CpuStorage, fmtShape, type HostArray, numel, Tensor, writeHost } from "../../tensor.ts";
import { floatDType, resolveDim, splitAt } from "./_io.ts";

function fresh(dtype: DType, shape: readonly number[]): { storage: CpuStorage; data: HostArray } {
  const storage = new CpuStorage(dtype, numel(shape));
  return { storage, data: storage.data };
}

/** A CPU copy of a tensor from any device (values decoded, then re-encoded exactly). */
export function fromHost(x: Tensor): Tensor {
  if (x.device === "cpu") return clone(x);
  const { storage, data } = fresh(x.dtype, x.shape);
  writeHost(data, x.dtype, x.toTypedArray());
  return new Tensor(storage, x.shape);
}

/** A contiguous copy. */
export function clone(x: Tensor): Tensor {
  const { storage, data } = fresh(x.dtype, x.shape);
  data.set(x.hostData as never);
  return new Tensor(storage, x.shape);
}

/** A copy in `dtype`: floats round to nearest even; float → i32 truncates toward zero. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (!DTYPES.includes(dtype)) throw new DTypeError("cast", `unknown dtype "${dtype}"`);
  if (dtype === x.dtype) return clone(x);
  const values = x.toTypedArray();
  const { storage, data } = fresh(dtype, x.shape);
  if (dtype === "i32") {
    for (let i = 0; i < values.length; i++) data[i] = Math.trunc(values[i]);
  } else {
    writeHost(data, dtype, values);
  }
  return new Tensor(storage, x.shape);
}

/** Dims reordered: output dim i is input dim `dims[i]`. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const n = x.ndim;
  const order = dims.map((d) => (Number.isInteger(d) && d >= -n && d < n ? (d + n) % n : -1));
  if (dims.length !== n || order.includes(-1) || new Set(order).size !== n) {
    throw new ShapeError("permute", `dims [${dims.join(", ")}] are not a permutation for shape ${fmtShape(x.shape)}`);
  }
  const shape = order.map((d) => x.shape[d]);
  const inStrides = new Array<number>(n);
  for (let d = n - 1, s = 1; d >= 0; d--) [inStrides[d], s] = [s, s * x.shape[d]];
  const strides = order.map((d) => inStrides[d]);
  const src = x.hostData;
  const { storage, data } = fresh(x.dtype, shape);
  const index = new Array<number>(n).fill(0);
  let offset = 0;
  for (let o = 0; o < data.length; o++) {
    data[o] = src[offset];
    for (let d = n - 1; d >= 0; d--) {
      offset += strides[d];
      if (++index[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
  return new Tensor(storage, shape);
}

/** Tensors joined along `dim`; all other dims and the dtype must agree. */
export function concat(xs: readonly Tensor[], dim: number): Tensor {
  if (xs.length === 0) throw new ShapeError("concat", "needs at least one tensor");
  const first = xs[0];
  const all = xs.map((x) => fmtShape(x.shape)).join(", ");
  if (xs.some((x) => x.dtype !== first.dtype)) {
    throw new DTypeError("concat", `dtypes differ: ${xs.map((x) => `${x.dtype} ${fmtShape(x.shape)}`).join(", ")}`);
  }
  const d = resolveDim("concat", dim, first.shape);
  const mismatch = xs.some((x) => x.ndim !== first.ndim || x.shape.some((s, i) => i !== d && s !== first.shape[i]));
  if (mismatch) throw new ShapeError("concat", `shapes ${all} differ outside dim ${dim}`);
  const shape = [...first.shape];
  shape[d] = xs.reduce((total, x) => total + x.shape[d], 0);
  const { storage, data } = fresh(first.dtype, shape);
  const { outer, inner } = splitAt(shape, d);
  const rowLength = shape[d] * inner;
  let start = 0;
  for (const x of xs) {
    const chunk = x.shape[d] * inner;
    const src = x.hostData;
    for (let o = 0; o < outer; o++) data.set(src.subarray(o * chunk, (o + 1) * chunk) as never, o * rowLength + start);
    start += chunk;
  }
  return new Tensor(storage, shape);
}

/** Entries [start, start + length) of `dim`. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = resolveDim("narrow", dim, x.shape);
  const size = x.shape[d];
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > size) {
    throw new ShapeError("narrow", `start ${start} length ${length} exceed dim ${dim} of ${fmtShape(x.shape)}`);
  }
  const shape = x.shape.map((s, i) => (i === d ? length : s));
  const { outer, inner } = splitAt(x.shape, d);
  const src = x.hostData;
  const { storage, data } = fresh(x.dtype, shape);
  for (let o = 0; o < outer; o++) {
    const from = (o * size + start) * inner;
    data.set(src.subarray(from, from + length * inner) as never, o * length * inner);
  }
  return new Tensor(storage, shape);
}

/** Rows of `table` [V, D] for i32 `ids`; an id outside [0, V) throws naming it. */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  if (ids.dtype !== "i32") {
    throw new DTypeError("embedding", `ids must be i32, got ${ids.dtype} ${fmtShape(ids.shape)}`);
  }
  floatDType("embedding", table);
  if (table.ndim !== 2) {
    throw new ShapeError(
      "embedding",
      `table must be [V, D], got ${fmtShape(table.shape)} (ids ${fmtShape(ids.shape)})`,
    );
  }
  const [vocab, d] = table.shape;
  const idData = ids.hostData;
  const rows = table.hostData;
  for (let i = 0; i < idData.length; i++) {
    const id = idData[i];
    if (id < 0 || id >= vocab) {
      throw new ShapeError(
        "embedding",
        `id ${id} at position ${i} is out of range [0, ${vocab}) for table ${fmtShape(table.shape)} ` +
          `(ids ${fmtShape(ids.shape)})`,
      );
    }
  }
  const shape = [...ids.shape, d];
  const { storage, data } = fresh(table.dtype, shape);
  for (let i = 0; i < idData.length; i++) {
    data.set(rows.subarray(idData[i] * d, (idData[i] + 1) * d) as never, i * d);
  }
  return new Tensor(storage, shape);
}
