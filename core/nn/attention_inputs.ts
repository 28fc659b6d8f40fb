/**
 * Validation and reading of the inputs of a per-head attention function — q [B, H, Nq, d],
 * k [B, Hkv, Nk, d], v [B, Hkv, Nk, e] — into f64 arrays, plus the ALiBi slope table and the
 * flat-array offsets of each (batch, query head) pair. Every failure names the op and the shapes.
 *
 * @module
 */
import type { DType } from "../dtype.ts";
import { ConfigError, DTypeError, ShapeError } from "../errors.ts";
import { fmtShape, type Tensor } from "../tensor.ts";

/** Sizes of one attention call. Query head h reads key/value head ⌊h / (H / Hkv)⌋. */
export interface AttentionGeometry {
  /** Batch size B. */
  batch: number;
  /** Query heads H. */
  heads: number;
  /** Key/value heads Hkv, a divisor of H. */
  kvHeads: number;
  /** Query tokens Nq. */
  nq: number;
  /** Key/value tokens Nk. */
  nk: number;
  /** q/k head dim. */
  d: number;
  /** v head dim. */
  e: number;
}

/** ALiBi slopes: one per head, or one per (batch, head). */
export type Slopes = Float32Array | Float64Array | Tensor;

/** Checks shapes and dtypes of q, k, v and returns their geometry. */
export function checkHeads(op: string, q: Tensor, k: Tensor, v: Tensor): AttentionGeometry {
  const shapes = `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`;
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new ShapeError(op, `q, k, v must be [B, H, N, d] tensors; got ${shapes}`);
  }
  if (q.dtype === "i32" || q.dtype !== k.dtype || q.dtype !== v.dtype) {
    throw new DTypeError(op, `q, k, v must share one floating dtype; got q ${q.dtype}, k ${k.dtype}, v ${v.dtype}`);
  }
  const [batch, heads, nq, d] = q.shape;
  const [kb, kvHeads, nk, kd] = k.shape;
  const [vb, vh, vn, e] = v.shape;
  const fail = (why: string): never => {
    throw new ShapeError(op, `${why}; got ${shapes}`);
  };
  if (kb !== batch || vb !== batch) fail("q, k, v must have the same batch size");
  if (vh !== kvHeads) fail("k and v must have the same number of heads");
  if (kvHeads === 0 || heads % kvHeads !== 0) fail(`query heads (${heads}) must be a multiple of key/value heads`);
  if (kd !== d) fail(`q and k must have the same head dim`);
  if (vn !== nk) fail("k and v must have the same number of tokens");
  if (batch === 0 || heads === 0 || nq === 0 || nk === 0 || d === 0 || e === 0) fail("every dimension must be > 0");
  return { batch, heads, kvHeads, nq, nk, d, e };
}

/** Checks that a gradient of the output has the output's shape and the inputs' dtype. */
export function checkOutputGrad(op: string, g: AttentionGeometry, dtype: DType, dOut: Tensor): void {
  const expected = [g.batch, g.heads, g.nq, g.e];
  if (dOut.ndim !== 4 || dOut.shape.some((n, i) => n !== expected[i])) {
    throw new ShapeError(op, `dOut must have the output's shape ${fmtShape(expected)}; got ${fmtShape(dOut.shape)}`);
  }
  if (dOut.dtype !== dtype) throw new DTypeError(op, `dOut must be ${dtype} like q, k, v; got ${dOut.dtype}`);
}

/** The attention scale: `scale` when given (positive, finite), else d^-½. */
export function resolveScale(op: string, scale: number | undefined, d: number): number {
  if (scale === undefined) return 1 / Math.sqrt(d);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new ConfigError(op, "scale", `must be a positive finite number, got ${scale}`);
  }
  return scale;
}

/** Slopes expanded to one per (batch, head), index b·H + h; per-head input is repeated. */
export function readSlopes(op: string, slopes: Slopes, batch: number, heads: number): Float64Array {
  const values = ArrayBuffer.isView(slopes) ? slopes : slopes.toFloat32Array();
  const what = ArrayBuffer.isView(slopes) ? `${values.length} values` : `shape ${fmtShape(slopes.shape)}`;
  const out = new Float64Array(batch * heads);
  if (values.length === heads) {
    for (let b = 0; b < batch; b++) for (let h = 0; h < heads; h++) out[b * heads + h] = values[h];
  } else if (values.length === batch * heads) {
    out.set(values);
  } else {
    throw new ShapeError(
      op,
      `alibiSlopes must hold ${heads} (per head) or ${batch * heads} (per batch·head) values; got ${what}`,
    );
  }
  for (const s of out) {
    if (!Number.isFinite(s)) throw new ConfigError(op, "alibiSlopes", `slopes must be finite, got ${s}`);
  }
  return out;
}

/** A tensor's elements as f64. */
export function readF64(x: Tensor): Float64Array {
  return Float64Array.from(x.toFloat32Array());
}

/** Where one (batch, query head) pair starts in the flat row-major q, k, v and output arrays. */
export interface HeadPair {
  /** b·H + h: the pair's index among B·H (per-(batch, head) tables such as slopes). */
  index: number;
  /** Offset of its q rows, [Nq, d]. */
  q: number;
  /** Offset of its key/value head's k rows, [Nk, d]. */
  k: number;
  /** Offset of its key/value head's v rows, [Nk, e]. */
  v: number;
  /** Offset of its output rows, [Nq, e]. */
  o: number;
}

/** Every (batch, query head) pair in order, with query head h reading key/value head ⌊h / (H / Hkv)⌋. */
export function* headPairs(g: AttentionGeometry): Generator<HeadPair> {
  const group = g.heads / g.kvHeads;
  for (let b = 0; b < g.batch; b++) {
    for (let h = 0; h < g.heads; h++) {
      const kv = b * g.kvHeads + Math.floor(h / group);
      const index = b * g.heads + h;
      yield { index, q: index * g.nq * g.d, k: kv * g.nk * g.d, v: kv * g.nk * g.e, o: index * g.nq * g.e };
    }
  }
}
