/**
 * CPU reference of softmax attention: O = softmax(Q Kᵀ·scale + mask) V with bottom-right causal
 * alignment, optional ALiBi, GQA/MQA, logsumexp, and the FlashAttention-2 style backward. Plain
 * loops in f64; results in the inputs' dtype (logsumexp in f32).
 *
 * @module
 */
import { type Tensor, tensor } from "../../core/tensor.ts";
import {
  type AttentionGeometry,
  checkHeads,
  checkOutputGrad,
  readF64,
  readSlopes,
  resolveScale,
  type Slopes,
} from "../../core/nn/mod.ts";
import { softmaxBackwardF64, softmaxForwardF64, type SoftmaxMath } from "./_kernel.ts";

/** Options of {@linkcode softmaxAttention}. */
export interface SoftmaxAttentionOptions {
  /** Score scale; default d^-½. */
  scale?: number;
  /** Hide key j from query i when j > i + Nk − Nq (bottom-right aligned). Default false. */
  causal?: boolean;
  /** ALiBi slopes, [H] or [B, H]; adds −slope·|i + Nk − Nq − j| to each score. */
  alibiSlopes?: Slopes;
}

interface Prepared {
  g: AttentionGeometry;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  math: SoftmaxMath;
}

function prepare(op: string, q: Tensor, k: Tensor, v: Tensor, options: SoftmaxAttentionOptions): Prepared {
  const g = checkHeads(op, q, k, v);
  const math: SoftmaxMath = {
    scale: resolveScale(op, options.scale, g.d),
    causal: options.causal ?? false,
    slopes: options.alibiSlopes === undefined ? undefined : readSlopes(op, options.alibiSlopes, g.batch, g.heads),
  };
  return { g, q: readF64(q), k: readF64(k), v: readF64(v), math };
}

/** Output and logsumexp of {@linkcode softmaxAttentionWithLse}. */
export interface SoftmaxAttentionResult {
  /** O, [B, H, Nq, e] in the inputs' dtype. */
  out: Tensor;
  /** log Σ_j exp(S_ij) per query row, [B, H, Nq] in f32; −∞ for a row with no visible key. */
  lse: Tensor;
}

/**
 * Softmax attention and its logsumexp: q [B, H, Nq, d], k [B, Hkv, Nk, d], v [B, Hkv, Nk, e]
 * (H a multiple of Hkv). A fully masked row (causal with Nq > Nk) outputs 0, as FlashAttention does.
 */
export function softmaxAttentionWithLse(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: SoftmaxAttentionOptions = {},
): SoftmaxAttentionResult {
  const p = prepare("softmaxAttention", q, k, v, options);
  const { out, lse } = softmaxForwardF64(p.g, p.q, p.k, p.v, p.math);
  return {
    out: tensor(out, { shape: [p.g.batch, p.g.heads, p.g.nq, p.g.e], dtype: q.dtype }),
    lse: tensor(lse, { shape: [p.g.batch, p.g.heads, p.g.nq] }),
  };
}

/**
 * Softmax attention O = softmax(Q Kᵀ·scale + mask) V, [B, H, Nq, e] in the inputs' dtype.
 *
 * @example
 * ```ts
 * import { randn } from "@attnzoo/zoo";
 * const q = randn([1, 4, 3, 8], { seed: 1 });
 * const k = randn([1, 2, 5, 8], { seed: 2 }); // GQA: 2 key/value heads for 4 query heads
 * const v = randn([1, 2, 5, 8], { seed: 3 });
 * softmaxAttention(q, k, v, { causal: true }).shape; // [1, 4, 3, 8]
 * ```
 */
export function softmaxAttention(q: Tensor, k: Tensor, v: Tensor, options: SoftmaxAttentionOptions = {}): Tensor {
  const { out, lse } = softmaxAttentionWithLse(q, k, v, options);
  lse.dispose();
  return out;
}

/** Gradients returned by {@linkcode softmaxAttentionBackward}. */
export interface SoftmaxAttentionGrads {
  /** dL/dq, [B, H, Nq, d]. */
  dq: Tensor;
  /** dL/dk, [B, Hkv, Nk, d] (summed over the query heads of each group). */
  dk: Tensor;
  /** dL/dv, [B, Hkv, Nk, e]. */
  dv: Tensor;
}

/**
 * Backward of {@linkcode softmaxAttention} for the output gradient `dOut` [B, H, Nq, e]: recomputes
 * P and O, then dS = P ⊙ (dP − rowsum(dO ⊙ O)).
 */
export function softmaxAttentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dOut: Tensor,
  options: SoftmaxAttentionOptions = {},
): SoftmaxAttentionGrads {
  const op = "softmaxAttentionBackward";
  const p = prepare(op, q, k, v, options);
  checkOutputGrad(op, p.g, q.dtype, dOut);
  const grads = softmaxBackwardF64(p.g, p.q, p.k, p.v, readF64(dOut), p.math);
  return {
    dq: tensor(grads.dq, { shape: q.shape, dtype: q.dtype }),
    dk: tensor(grads.dk, { shape: k.shape, dtype: q.dtype }),
    dv: tensor(grads.dv, { shape: v.shape, dtype: q.dtype }),
  };
}
