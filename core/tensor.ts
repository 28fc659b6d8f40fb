/**
 * The tensor: a shape, a dtype, a device and reference-counted storage. CPU storage lives in a
 * SharedArrayBuffer so the CPU backend's workers can read and write it without copies; device
 * storage is an opaque handle owned by native code.
 *
 * @module
 */
import { decodeHalf, type DType, DTYPES, encodeHalf } from "./dtype.ts";
import { DisposedTensorError, DTypeError, ShapeError } from "./errors.ts";

/** Where a tensor's elements live. */
export type Device = "cpu" | "cuda";

/** Typed array that holds CPU elements: f32 values, f16/bf16 bit patterns, or i32 values. */
export type HostArray = Float32Array | Uint16Array | Int32Array;

/** A nested array of numbers, as returned by {@linkcode Tensor.toArray}. */
export type NestedArray = number | NestedArray[];

/** Storage behind one or more tensors (views share it). Freed when the last tensor is disposed. */
export interface Storage {
  /** Device that owns the memory. */
  readonly device: Device;
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly length: number;
  /** Frees the memory; called once, when the last tensor that shares it is disposed. */
  free(): void;
}

/** Host storage: a typed array over a SharedArrayBuffer. */
export class CpuStorage implements Storage {
  /** Always `"cpu"`. */
  readonly device: Device = "cpu";
  /** Element type. */
  readonly dtype: DType;
  /** The elements (bit patterns for f16/bf16). */
  data: HostArray;
  /** Zero-filled storage of `length` elements. */
  constructor(dtype: DType, length: number) {
    this.dtype = dtype;
    this.data = allocHost(dtype, length);
  }
  /** Number of elements. */
  get length(): number {
    return this.data.length;
  }
  /** Drops the reference to the buffer; the garbage collector reclaims it. */
  free(): void {
    this.data = allocHost(this.dtype, 0);
  }
}

/** Allocates a zeroed host array of `dtype` on a SharedArrayBuffer. */
export function allocHost(dtype: DType, length: number): HostArray {
  const bytes = new SharedArrayBuffer(length * (dtype === "f16" || dtype === "bf16" ? 2 : 4));
  switch (dtype) {
    case "f32":
      return new Float32Array(bytes);
    case "i32":
      return new Int32Array(bytes);
    default:
      return new Uint16Array(bytes);
  }
}

class SharedStorage {
  refs = 1;
  constructor(readonly storage: Storage) {}
}

/**
 * A device tensor collected without `dispose()` gives up its share of the storage, with a
 * warning; the memory is freed once no live view shares it.
 */
const leakGuard = new FinalizationRegistry<{ shared: SharedStorage; shape: string }>((held) => {
  console.warn(`attnzoo: a ${held.shared.storage.device} tensor ${held.shape} was never disposed`);
  if (--held.shared.refs === 0) held.shared.storage.free();
});

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Throws a ShapeError unless every dimension is a non-negative integer. */
export function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(op, `invalid shape [${shape.join(", ")}]`);
    }
  }
}

/** Formats a shape for error messages: `[2, 3, 4]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * An n-dimensional array. Dispose it with `dispose()` or a `using` declaration; any use after
 * that throws {@linkcode DisposedTensorError}.
 */
export class Tensor implements Disposable {
  /** Dimensions, outermost first (row-major, contiguous). */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  #shared: SharedStorage | undefined;

  /** Wraps storage; `shape` must hold exactly `storage.length` elements. */
  constructor(storage: Storage, shape: readonly number[]) {
    checkShape("Tensor", shape);
    const size = numel(shape);
    if (size !== storage.length) {
      throw new ShapeError("Tensor", `shape ${fmtShape(shape)} needs ${size} elements, storage has ${storage.length}`);
    }
    this.shape = Object.freeze([...shape]);
    this.dtype = storage.dtype;
    this.size = size;
    this.#shared = new SharedStorage(storage);
    if (storage.device !== "cpu") leakGuard.register(this, { shared: this.#shared, shape: fmtShape(shape) }, this);
  }

  /** Device that holds the elements. */
  get device(): Device {
    return this.storage.device;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** True once disposed. */
  get disposed(): boolean {
    return this.#shared === undefined;
  }

  /** The storage; backends use it, users rarely need it. Throws once disposed. */
  get storage(): Storage {
    if (this.#shared === undefined) throw new DisposedTensorError(`tensor ${fmtShape(this.shape)}`);
    return this.#shared.storage;
  }

  /** The host elements of a CPU tensor (bit patterns for f16/bf16). Throws for device tensors. */
  get hostData(): HostArray {
    const storage = this.storage;
    if (!(storage instanceof CpuStorage)) {
      throw new DTypeError("hostData", `tensor lives on ${storage.device}; call toTypedArray() or to("cpu")`);
    }
    return storage.data;
  }

  /** A tensor with a new shape over the same storage (one dimension may be -1). */
  reshape(shape: readonly number[]): Tensor {
    const resolved = resolveReshape(this.shape, shape);
    const view = new Tensor(this.storage, resolved);
    // share this storage: drop the view's own record, point it at ours
    view.#adopt(this.#shared!);
    return view;
  }

  #adopt(shared: SharedStorage): void {
    leakGuard.unregister(this);
    this.#shared = shared;
    shared.refs++;
    if (shared.storage.device !== "cpu") leakGuard.register(this, { shared, shape: fmtShape(this.shape) }, this);
  }

  /** Elements as f32 values (f16/bf16 decoded) or i32 values; always a fresh copy on the host. */
  toTypedArray(): Float32Array | Int32Array {
    const storage = this.storage;
    const host = storage instanceof CpuStorage ? storage.data : downloadFn(storage);
    if (this.dtype === "f16" || this.dtype === "bf16") return decodeHalf(this.dtype, host as Uint16Array);
    return this.dtype === "i32" ? Int32Array.from(host as Int32Array) : Float32Array.from(host as Float32Array);
  }

  /** Elements as f32 values whatever the dtype (i32 converted); always a fresh copy on the host. */
  toFloat32Array(): Float32Array {
    const values = this.toTypedArray();
    return values instanceof Float32Array ? values : Float32Array.from(values);
  }

  /** Elements as nested arrays, outermost dimension first; a 0-d tensor gives a number. */
  toArray(): NestedArray {
    const flat = this.toTypedArray();
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return flat[offset];
      const stride = numel(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < this.shape[dim]; i++) out.push(build(dim + 1, offset + i * stride));
      return out;
    };
    return build(0, 0);
  }

  /** Releases this tensor's hold on its storage; the memory is freed when no view holds it. */
  dispose(): void {
    const shared = this.#shared;
    if (shared === undefined) return;
    this.#shared = undefined;
    leakGuard.unregister(this);
    if (--shared.refs === 0) shared.storage.free();
  }

  /** Same as {@linkcode Tensor.dispose}, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `Tensor(f32 [2, 3] cpu)`. */
  toString(): string {
    return this.disposed ? `Tensor(disposed)` : `Tensor(${this.dtype} ${fmtShape(this.shape)} ${this.device})`;
  }
}

function resolveReshape(from: readonly number[], to: readonly number[]): number[] {
  const size = numel(from);
  const out = [...to];
  const free = out.indexOf(-1);
  if (free !== out.lastIndexOf(-1)) throw new ShapeError("reshape", `only one -1 allowed in ${fmtShape(to)}`);
  if (free >= 0) {
    const rest = numel(out.filter((_, i) => i !== free));
    if (rest === 0 || size % rest !== 0) {
      throw new ShapeError("reshape", `cannot reshape ${fmtShape(from)} to ${fmtShape(to)}`);
    }
    out[free] = size / rest;
  }
  checkShape("reshape", out);
  if (numel(out) !== size) throw new ShapeError("reshape", `cannot reshape ${fmtShape(from)} to ${fmtShape(to)}`);
  return out;
}

/** Copies device storage to the host; installed by the backend that owns device memory. */
let downloadFn: (storage: Storage) => HostArray = (storage) => {
  throw new DTypeError("download", `no backend can read ${storage.device} memory`);
};

/** Lets a device backend teach tensors how to copy its storage to the host. */
export function setDeviceDownload(fn: (storage: Storage) => HostArray): void {
  downloadFn = fn;
}

/** Options for tensor creation. */
export interface TensorOptions {
  /** Shape; inferred from nested arrays when omitted. */
  shape?: readonly number[];
  /** Element type; default f32 (i32 for Int32Array input). */
  dtype?: DType;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

function flatten(data: NestedArray, shape: readonly number[], out: number[], dim = 0): void {
  if (dim === shape.length) {
    if (typeof data !== "number") throw new ShapeError("tensor", `ragged nested array, expected ${fmtShape(shape)}`);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new ShapeError("tensor", `ragged nested array, expected ${fmtShape(shape)}`);
  }
  for (const item of data) flatten(item, shape, out, dim + 1);
}

/**
 * Creates a CPU tensor from numbers, nested arrays or a typed array. Values are rounded to the
 * dtype (round to nearest even for f16/bf16). Use `toDevice` from the backends to move it.
 *
 * @example
 * ```ts
 * import { tensor } from "@attnzoo/zoo";
 * using t = tensor([[1, 2], [3, 4]], { dtype: "bf16" });
 * t.shape; // [2, 2]
 * ```
 */
export function tensor(
  data: NestedArray | Float32Array | Float64Array | Int32Array,
  options: TensorOptions = {},
): Tensor {
  const dtype = options.dtype ?? (data instanceof Int32Array ? "i32" : "f32");
  if (!DTYPES.includes(dtype)) throw new DTypeError("tensor", `unknown dtype "${dtype}"`);
  let flat: ArrayLike<number>;
  let shape: readonly number[];
  if (ArrayBuffer.isView(data)) {
    flat = data;
    shape = options.shape ?? [data.length];
  } else {
    shape = options.shape ?? inferShape(data);
    const out: number[] = [];
    flatten(data, options.shape === undefined ? shape : inferShape(data), out);
    flat = out;
  }
  checkShape("tensor", shape);
  if (numel(shape) !== flat.length) {
    throw new ShapeError("tensor", `shape ${fmtShape(shape)} needs ${numel(shape)} elements, got ${flat.length}`);
  }
  const storage = new CpuStorage(dtype, flat.length);
  writeHost(storage.data, dtype, flat);
  return new Tensor(storage, shape);
}

/** Writes numbers into host storage of `dtype`, rounding as the dtype requires. */
export function writeHost(target: HostArray, dtype: DType, values: ArrayLike<number>): void {
  if (dtype === "f16" || dtype === "bf16") encodeHalf(dtype, values, target as Uint16Array);
  else if (dtype === "i32") {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isInteger(v)) throw new DTypeError("tensor", `i32 tensor got non-integer ${v}`);
      target[i] = v;
    }
  } else (target as Float32Array).set(values);
}

/** An empty (zero-filled) CPU tensor of a shape and dtype. */
export function zeros(shape: readonly number[], dtype: DType = "f32"): Tensor {
  checkShape("zeros", shape);
  return new Tensor(new CpuStorage(dtype, numel(shape)), shape);
}

/** A CPU tensor filled with `value`. */
export function full(shape: readonly number[], value: number, dtype: DType = "f32"): Tensor {
  const t = zeros(shape, dtype);
  writeHost(t.hostData, dtype, new Float32Array(t.size).fill(value));
  return t;
}

/** A CPU tensor of ones. */
export function ones(shape: readonly number[], dtype: DType = "f32"): Tensor {
  return full(shape, 1, dtype);
}

/** `[start, start + step, …)` below `end`, as a 1-d CPU tensor. */
export function arange(start: number, end: number, step = 1, dtype: DType = "f32"): Tensor {
  const n = Math.max(0, Math.ceil((end - start) / step));
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return tensor(values, { dtype });
}
