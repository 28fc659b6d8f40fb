/**
 * CPU reference of focused linear attention (FLatten, arXiv 2308.00442) as plain float64 loops:
 * the functional core `flattenAttention` (focusing function, head split, linear attention in
 * either kernel-trick order, or the causal prefix form). The full layer is in reference_mixer.ts.
 *
 * @module
 */
import { ConfigError, ShapeError } from "../../core/errors.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import { causalLinearAttention, type CoreShape, focus, kvFirstIsCheaper, linearAttention } from "./_loops.ts";

/** Options of {@linkcode flattenAttention}. */
export interface FlattenAttentionOptions {
  /** Number of heads; C must be a multiple of it. */
  heads: number;
  /** The learnt `scale` ([1, 1, C] or [C]) before softplus; default zeros (softplus(0) = ln 2). */
  scale?: Tensor;
  /** Power p of the focusing function; default 3. */
  focusingFactor?: number;
  /** Causal prefix form (N = n): token t sees tokens ≤ t. Default false. */
  causal?: boolean;
  /** Kernel-trick order of the non-causal form: `kv`, `qk`, or `auto` (by cost). Default `auto`. */
  order?: "auto" | "kv" | "qk";
}

/** Validated geometry of q [B, N, C], k and v [B, n, C]. */
export function attentionShape(op: string, q: Tensor, k: Tensor, v: Tensor, heads: number): CoreShape {
  const shapes = `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`;
  if (q.ndim !== 3 || k.ndim !== 3 || v.ndim !== 3) {
    throw new ShapeError(op, `expected [B, N, C] inputs, got ${shapes}`);
  }
  const [batch, queries, channels] = q.shape;
  const keys = k.shape[1];
  if (k.shape[0] !== batch || v.shape[0] !== batch || v.shape[1] !== keys) {
    throw new ShapeError(op, `batch and key counts disagree: ${shapes}`);
  }
  if (k.shape[2] !== channels || v.shape[2] !== channels) throw new ShapeError(op, `channel counts differ: ${shapes}`);
  if (!Number.isInteger(heads) || heads < 1 || channels % heads !== 0) {
    throw new ConfigError(op, "heads", `${heads} heads do not split ${channels} channels`);
  }
  if (keys === 0) throw new ShapeError(op, `needs at least one key: ${shapes}`);
  return { batch, queries, keys, channels, heads };
}

/** The `scale` parameter as C numbers; checks its shape. */
export function scaleValues(op: string, scale: Tensor | undefined, channels: number): Float32Array {
  if (scale === undefined) return new Float32Array(channels);
  if (scale.size !== channels || scale.shape[scale.ndim - 1] !== channels) {
    throw new ShapeError(op, `scale ${fmtShape(scale.shape)} must hold ${channels} channels ([1, 1, ${channels}])`);
  }
  return scale.toFloat32Array();
}

/**
 * Focused linear attention on projected q [B, N, C], k [B, n, C] (positional encoding already
 * added) and v [B, n, C]: φ(q), φ(k) with φ(x) = ‖y‖·y^p/‖y^p‖, y = (ReLU(x) + 1e-6)/softplus(scale),
 * then per head out = φ(q)·(φ(k)ᵀv/n) / (φ(q)·mean(φ(k)) + 1e-6). Returns [B, N, C] in q's dtype
 * (heads merged, no DWC, no output projection).
 */
export function flattenAttention(q: Tensor, k: Tensor, v: Tensor, options: FlattenAttentionOptions): Tensor {
  const op = "flattenAttention";
  const shape = attentionShape(op, q, k, v, options.heads);
  const p = options.focusingFactor ?? 3;
  if (!(p > 0)) throw new ConfigError(op, "focusingFactor", `must be positive, got ${p}`);
  if (options.causal === true && shape.keys !== shape.queries) {
    throw new ShapeError(
      op,
      `causal form needs as many keys as queries: q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}`,
    );
  }
  const scale = scaleValues(op, options.scale, shape.channels);
  const qf = focus(q.toFloat32Array(), shape.batch * shape.queries, shape.channels, scale, p);
  const kf = focus(k.toFloat32Array(), shape.batch * shape.keys, shape.channels, scale, p);
  const values = v.toFloat32Array();
  const out = options.causal === true
    ? causalLinearAttention(qf, kf, values, shape)
    : linearAttention(qf, kf, values, shape, kvFirst(options.order ?? "auto", shape));
  return tensor(out, { shape: [shape.batch, shape.queries, shape.channels], dtype: q.dtype });
}

/** Whether the non-causal core computes kᵀv first under `order`. */
export function kvFirst(order: "auto" | "kv" | "qk", shape: CoreShape): boolean {
  if (order === "auto") return kvFirstIsCheaper(shape.queries, shape.keys, shape.channels / shape.heads);
  return order === "kv";
}
