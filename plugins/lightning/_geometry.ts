// Validation of the functional API's inputs: q, k [B, H, N, d], v [B, H, N, e], the per-head decay
// rates s [H] and output gradients. Every failure names the op and every shape involved.
import { ConfigError, DTypeError, ShapeError } from "../../core/errors.ts";
import { fmtShape, type Tensor } from "../../core/tensor.ts";

/** Sizes of one lightning-attention call. */
export interface Geometry {
  batch: number;
  heads: number;
  /** Tokens. */
  length: number;
  /** q/k head dim. */
  d: number;
  /** v head dim. */
  e: number;
}

/** Per-head decay rates s_h (λ_h = exp(−s_h)): a tensor [H] or plain numbers. */
export type DecayRates = Tensor | ArrayLike<number>;

/** Checks shapes and dtypes of q, k, v and returns their geometry. */
export function checkHeads(op: string, q: Tensor, k: Tensor, v: Tensor): Geometry {
  const shapes = `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`;
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new ShapeError(op, `q, k, v must be [B, H, N, d] tensors; got ${shapes}`);
  }
  if (q.dtype === "i32" || q.dtype !== k.dtype || q.dtype !== v.dtype) {
    throw new DTypeError(op, `q, k, v must share one floating dtype; got q ${q.dtype}, k ${k.dtype}, v ${v.dtype}`);
  }
  const [batch, heads, length, d] = q.shape;
  const [kb, kh, kn, kd] = k.shape;
  const [vb, vh, vn, e] = v.shape;
  const fail = (why: string): never => {
    throw new ShapeError(op, `${why}; got ${shapes}`);
  };
  if (kb !== batch || vb !== batch) fail("q, k, v must have the same batch size");
  if (kh !== heads || vh !== heads) fail("q, k, v must have the same number of heads");
  if (kn !== length || vn !== length) fail("q, k, v must have the same number of tokens");
  if (kd !== d) fail("q and k must have the same head dim");
  if (batch === 0 || heads === 0 || length === 0 || d === 0 || e === 0) fail("every dimension must be > 0");
  return { batch, heads, length, d, e };
}

/** Reads the decay rates: exactly one finite, non-negative s_h per head. */
export function readDecay(op: string, s: DecayRates, heads: number): Float64Array {
  const isTensor = !ArrayBuffer.isView(s) && typeof (s as Tensor).toFloat32Array === "function";
  const values = isTensor ? (s as Tensor).toFloat32Array() : s as ArrayLike<number>;
  if (values.length !== heads || (isTensor && (s as Tensor).ndim !== 1)) {
    const what = isTensor ? `shape ${fmtShape((s as Tensor).shape)}` : `${values.length} values`;
    throw new ShapeError(op, `decay rates s must hold one value per head (${heads}); got ${what}`);
  }
  const out = Float64Array.from(values);
  out.forEach((rate, h) => {
    if (!Number.isFinite(rate) || rate < 0) {
      throw new ConfigError(op, `s[${h}]`, `decay rates must be finite and >= 0 (λ = exp(−s) ≤ 1), got ${rate}`);
    }
  });
  return out;
}

/** Checks that an output gradient has the output's shape [B, H, N, e] and the inputs' dtype. */
export function checkOutputGrad(op: string, g: Geometry, q: Tensor, dOut: Tensor): void {
  const expected = [g.batch, g.heads, g.length, g.e];
  if (dOut.ndim !== 4 || dOut.shape.some((n, i) => n !== expected[i])) {
    throw new ShapeError(op, `dOut must have the output's shape ${fmtShape(expected)}; got ${fmtShape(dOut.shape)}`);
  }
  if (dOut.dtype !== q.dtype) throw new DTypeError(op, `dOut must be ${q.dtype} like q, k, v; got ${dOut.dtype}`);
}

/** Checks a block size: a positive integer. */
export function checkBlockSize(op: string, blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new ConfigError(op, "blockSize", `must be a positive integer, got ${blockSize}`);
  }
}
