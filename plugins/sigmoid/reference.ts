/**
 * CPU reference of sigmoid attention (arXiv 2409.04431): O = σ(Q Kᵀ·scale + b) V with a scalar b,
 * causal masking (masked weights exactly 0), ALiBi with the full-offset rule, GQA/MQA, optional
 * QK-norm, and the FlashSigmoid backward. Plain loops in f64; results in the inputs' dtype.
 *
 * @module
 */
import { ConfigError, ShapeError } from "../../core/errors.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import { attentionBackwardF64, attentionF64, type QkNormF64 } from "./_attention_f64.ts";
import {
  type AttentionGeometry,
  checkHeads,
  checkOutputGrad,
  readF64,
  readSlopes,
  resolveScale,
  type Slopes,
} from "../../core/nn/mod.ts";
import type { SigmoidMath } from "./_kernel.ts";
import type { QkNormKind } from "./_qk_norm.ts";

/** QK-norm over the head dim, applied to q and k before their product. */
export interface QkNormOptions {
  /** RMSNorm (x / rms(x) · w) or LayerNorm ((x − mean) / std · w + bias). */
  kind: QkNormKind;
  /** Weight of q's norm, [d]. */
  qWeight: Tensor;
  /** Weight of k's norm, [d]. */
  kWeight: Tensor;
  /** Bias of q's LayerNorm, [d]; default zeros. Not allowed for RMSNorm. */
  qBias?: Tensor;
  /** Bias of k's LayerNorm, [d]; default zeros. Not allowed for RMSNorm. */
  kBias?: Tensor;
  /** Variance epsilon; default 1e-6 (rms) or 1e-5 (layer), PyTorch's defaults. */
  eps?: number;
}

/** Options of {@linkcode sigmoidAttention}. */
export interface SigmoidAttentionOptions {
  /** The scalar b added to every score, usually −ln(training length), e.g. −ln 4096. */
  bias: number;
  /** Score scale; default d^-½. */
  scale?: number;
  /** Hide key j from query i when j > i + Nk − Nq (bottom-right aligned). Default false. */
  causal?: boolean;
  /** ALiBi slopes, [H] or [B, H] (fp32 values); adds −slope·|i + Nk − Nq − j| to each score. */
  alibiSlopes?: Slopes;
  /** QK-norm parameters; none by default. */
  qkNorm?: QkNormOptions;
}

interface Prepared {
  g: AttentionGeometry;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  math: SigmoidMath;
  norm: QkNormF64 | undefined;
}

function normVector(op: string, field: string, t: Tensor, d: number): Float64Array {
  if (t.ndim !== 1 || t.shape[0] !== d) {
    throw new ShapeError(op, `qkNorm.${field} must be [${d}] (the head dim); got ${fmtShape(t.shape)}`);
  }
  return readF64(t);
}

function readQkNorm(op: string, norm: QkNormOptions | undefined, d: number): QkNormF64 | undefined {
  if (norm === undefined) return undefined;
  if (norm.kind !== "rms" && norm.kind !== "layer") {
    throw new ConfigError(op, "qkNorm.kind", `must be "rms" or "layer", got ${JSON.stringify(norm.kind)}`);
  }
  const eps = norm.eps ?? (norm.kind === "rms" ? 1e-6 : 1e-5);
  if (!Number.isFinite(eps) || eps <= 0) throw new ConfigError(op, "qkNorm.eps", `must be > 0, got ${eps}`);
  if (norm.kind === "rms" && (norm.qBias !== undefined || norm.kBias !== undefined)) {
    throw new ConfigError(op, "qkNorm.qBias", "RMSNorm has no bias");
  }
  const bias = (field: string, t: Tensor | undefined): Float64Array | undefined =>
    norm.kind === "rms" ? undefined : t === undefined ? new Float64Array(d) : normVector(op, field, t, d);
  return {
    q: { kind: norm.kind, weight: normVector(op, "qWeight", norm.qWeight, d), bias: bias("qBias", norm.qBias), eps },
    k: { kind: norm.kind, weight: normVector(op, "kWeight", norm.kWeight, d), bias: bias("kBias", norm.kBias), eps },
  };
}

function prepare(op: string, q: Tensor, k: Tensor, v: Tensor, options: SigmoidAttentionOptions): Prepared {
  const g = checkHeads(op, q, k, v);
  if (typeof options.bias !== "number" || Number.isNaN(options.bias) || options.bias === Infinity) {
    throw new ConfigError(op, "bias", `must be a number below +∞ (e.g. −ln(maxLength)), got ${options.bias}`);
  }
  const math: SigmoidMath = {
    scale: resolveScale(op, options.scale, g.d),
    bias: options.bias,
    causal: options.causal ?? false,
    slopes: options.alibiSlopes === undefined ? undefined : readSlopes(op, options.alibiSlopes, g.batch, g.heads),
  };
  return { g, q: readF64(q), k: readF64(k), v: readF64(v), math, norm: readQkNorm(op, options.qkNorm, g.d) };
}

/**
 * Sigmoid attention: q [B, H, Nq, d], k [B, Hkv, Nk, d], v [B, Hkv, Nk, e] (H a multiple of Hkv)
 * → O [B, H, Nq, e] in the inputs' dtype.
 *
 * @example
 * ```ts
 * import { randn } from "@attnzoo/zoo";
 * const q = randn([1, 2, 4, 8], { seed: 1 });
 * const k = randn([1, 2, 4, 8], { seed: 2 });
 * const v = randn([1, 2, 4, 8], { seed: 3 });
 * const o = sigmoidAttention(q, k, v, { bias: -Math.log(4), causal: true });
 * o.shape; // [1, 2, 4, 8]
 * ```
 */
export function sigmoidAttention(q: Tensor, k: Tensor, v: Tensor, options: SigmoidAttentionOptions): Tensor {
  const p = prepare("sigmoidAttention", q, k, v, options);
  const out = attentionF64(p.g, p.q, p.k, p.v, p.math, p.norm);
  return tensor(out, { shape: [p.g.batch, p.g.heads, p.g.nq, p.g.e], dtype: q.dtype });
}

/** Gradients returned by {@linkcode sigmoidAttentionBackward}. */
export interface SigmoidAttentionGrads {
  /** dL/dq, [B, H, Nq, d]. */
  dq: Tensor;
  /** dL/dk, [B, Hkv, Nk, d] (summed over the query heads of each group). */
  dk: Tensor;
  /** dL/dv, [B, Hkv, Nk, e]. */
  dv: Tensor;
  /** dL/d(q norm weight), [d], with QK-norm only. */
  dqNormWeight?: Tensor;
  /** dL/d(k norm weight), [d], with QK-norm only. */
  dkNormWeight?: Tensor;
  /** dL/d(q norm bias), [d], with LayerNorm QK-norm only. */
  dqNormBias?: Tensor;
  /** dL/d(k norm bias), [d], with LayerNorm QK-norm only. */
  dkNormBias?: Tensor;
}

/**
 * Backward of {@linkcode sigmoidAttention} for the output gradient `dOut` [B, H, Nq, e]. Recomputes
 * P = σ(S) and uses dS = P ⊙ (1 − P) ⊙ dP, as FlashSigmoid does (no rowsum pre-pass, O unused).
 */
export function sigmoidAttentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dOut: Tensor,
  options: SigmoidAttentionOptions,
): SigmoidAttentionGrads {
  const op = "sigmoidAttentionBackward";
  const p = prepare(op, q, k, v, options);
  checkOutputGrad(op, p.g, q.dtype, dOut);
  const grads = attentionBackwardF64(p.g, p.q, p.k, p.v, readF64(dOut), p.math, p.norm);
  const dtype = q.dtype;
  const vector = (x: Float64Array | undefined): Tensor | undefined =>
    x === undefined ? undefined : tensor(x, { shape: [p.g.d], dtype });
  const result: SigmoidAttentionGrads = {
    dq: tensor(grads.dq, { shape: q.shape, dtype }),
    dk: tensor(grads.dk, { shape: k.shape, dtype }),
    dv: tensor(grads.dv, { shape: v.shape, dtype }),
  };
  const extras = {
    dqNormWeight: vector(grads.dqNormWeight),
    dkNormWeight: vector(grads.dkNormWeight),
    dqNormBias: vector(grads.dqNormBias),
    dkNormBias: vector(grads.dkNormBias),
  };
  for (const [name, t] of Object.entries(extras)) {
    if (t !== undefined) result[name as keyof typeof extras] = t;
  }
  return result;
}
