/**
 * Lightning attention (TransNormerLLM / Lightning Attention-2) on the CPU: causal linear attention
 * with a per-head exponential decay and no softmax or scaling,
 *   o_t = Σ_{j≤t} λ^(t−j) (q_t·k_j) v_j,  λ_h = exp(−s_h),
 * on q, k [B, H, N, d] and v [B, H, N, e]. Three causal forms (naive quadratic, blocked, recurrent
 * decode with an f32 state) and a bidirectional variant with its naive form. These are the
 * references the CUDA kernels are tested against. Outputs take the dtype of q.
 *
 * @module
 */
import { ConfigError, ShapeError } from "../../core/errors.ts";
import type { MixerState } from "../../core/plugin.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import { checkBlockSize, checkHeads, type DecayRates, type Geometry, readDecay } from "./_geometry.ts";
import { bidirectionalNaive, bidirectionalScan, causalBlocked, causalNaive, recurrentSteps } from "./_kernels.ts";

export type { DecayRates } from "./_geometry.ts";

type Kernel = (g: Geometry, q: Float32Array, k: Float32Array, v: Float32Array, s: Float64Array) => Float32Array;

function run(op: string, q: Tensor, k: Tensor, v: Tensor, s: DecayRates, kernel: Kernel): Tensor {
  const g = checkHeads(op, q, k, v);
  const rates = readDecay(op, s, g.heads);
  const out = kernel(g, q.toFloat32Array(), k.toFloat32Array(), v.toFloat32Array(), rates);
  return tensor(out, { shape: [g.batch, g.heads, g.length, g.e], dtype: q.dtype });
}

/** Causal lightning attention, naive quadratic form (the masked-decay matrix of the official torch code). */
export function lightningAttentionNaive(q: Tensor, k: Tensor, v: Tensor, s: DecayRates): Tensor {
  return run("lightningAttentionNaive", q, k, v, s, causalNaive);
}

/**
 * Causal lightning attention, blocked intra/inter form of Lightning Attention-2 (cost
 * O(N·d·e + N·blockSize·d)). Any N: the last block may be shorter. Default block 64 as the
 * official Triton kernel.
 */
export function lightningAttentionBlocked(q: Tensor, k: Tensor, v: Tensor, s: DecayRates, blockSize = 64): Tensor {
  checkBlockSize("lightningAttentionBlocked", blockSize);
  return run("lightningAttentionBlocked", q, k, v, s, (g, qa, ka, va, r) => causalBlocked(g, qa, ka, va, r, blockSize));
}

/** Bidirectional lightning attention, naive form: o_t = Σ_j λ^|t−j| (q_t·k_j) v_j, diagonal once. */
export function lightningAttentionBidirectionalNaive(q: Tensor, k: Tensor, v: Tensor, s: DecayRates): Tensor {
  return run("lightningAttentionBidirectionalNaive", q, k, v, s, bidirectionalNaive);
}

/** Bidirectional lightning attention as a forward scan (j ≤ t) plus a backward scan (j > t). */
export function lightningAttentionBidirectional(q: Tensor, k: Tensor, v: Tensor, s: DecayRates): Tensor {
  return run("lightningAttentionBidirectional", q, k, v, s, bidirectionalScan);
}

/** Options of {@linkcode lightningAttention}. */
export interface LightningAttentionOptions {
  /** Causal (default) or bidirectional. */
  causal?: boolean;
  /** Block size of the causal blocked form; default 64. */
  blockSize?: number;
}

/** Lightning attention: the blocked form when causal, the two-scan form when bidirectional. */
export function lightningAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  s: DecayRates,
  options: LightningAttentionOptions = {},
): Tensor {
  return options.causal === false
    ? lightningAttentionBidirectional(q, k, v, s)
    : lightningAttentionBlocked(q, k, v, s, options.blockSize);
}

/** Decode state of causal lightning attention: kv = Σ_j λ^(t−j) k_jᵀ v_j, f32 [B, H, d, e]. */
export class LightningState implements MixerState {
  /** The state, row-major [B, H, d, e]. */
  kv: Float32Array;
  #length = 0;
  constructor(readonly batch: number, readonly heads: number, readonly d: number, readonly e: number) {
    for (const [field, n] of Object.entries({ batch, heads, d, e })) {
      if (!Number.isInteger(n) || n < 1) {
        throw new ConfigError("LightningState", field, `must be a positive integer, got ${n}`);
      }
    }
    this.kv = new Float32Array(batch * heads * d * e);
  }
  /** Tokens consumed so far (the position of the next token). */
  get length(): number {
    return this.#length;
  }
  /** Records that `tokens` more tokens were consumed. */
  advance(tokens: number): void {
    this.#length += tokens;
  }
  /** Forgets everything: zero state, position 0. */
  reset(): void {
    this.kv.fill(0);
    this.#length = 0;
  }
  /** Drops the state. */
  [Symbol.dispose](): void {
    this.kv = new Float32Array(0);
  }
}

/** A fresh (zero) decode state for q/k head dim d and v head dim e. */
export function createLightningState(batch: number, heads: number, d: number, e: number): LightningState {
  return new LightningState(batch, heads, d, e);
}

/**
 * Recurrent decode: consumes q, k [B, H, T, d], v [B, H, T, e] one token at a time
 * (kv ← λ kv + kᵀv, o = q kv), returns o [B, H, T, e] and advances `state`.
 */
export function lightningStep(q: Tensor, k: Tensor, v: Tensor, s: DecayRates, state: LightningState): Tensor {
  const op = "lightningStep";
  const g = checkHeads(op, q, k, v);
  if (state.kv.length === 0) throw new ShapeError(op, "the state was disposed");
  if (state.batch !== g.batch || state.heads !== g.heads || state.d !== g.d || state.e !== g.e) {
    throw new ShapeError(
      op,
      `state is [${state.batch}, ${state.heads}, ${state.d}, ${state.e}] but q [B, H, T, d] / v [.., e] give ` +
        `[${g.batch}, ${g.heads}, ${g.d}, ${g.e}]`,
    );
  }
  const rates = readDecay(op, s, g.heads);
  const out = recurrentSteps(g, q.toFloat32Array(), k.toFloat32Array(), v.toFloat32Array(), rates, state.kv);
  state.advance(g.length);
  return tensor(out, { shape: [g.batch, g.heads, g.length, g.e], dtype: q.dtype });
}
