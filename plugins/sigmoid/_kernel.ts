// Sigmoid attention on f64 arrays, row by row as the FlashSigmoid kernels do it: no row max, no
// row sum; the backward recomputes P and uses dS = P ⊙ (1 − P) ⊙ dP, never reading O.
import { type AttentionGeometry, type HeadPair, headPairs } from "../../core/nn/mod.ts";

/** The scalar parts of the score: S = scale·q·k + bias − slope·distance, masked to −∞. */
export interface SigmoidMath {
  scale: number;
  bias: number;
  causal: boolean;
  /** Per (batch, head), index b·H + h; undefined without ALiBi. */
  slopes: Float64Array | undefined;
}

/**
 * The logit of query i and key j, or −∞ when causal masking hides j. Positions are aligned to the
 * bottom-right: query i sits at key position i + Nk − Nq. ALiBi gives every score the full offset,
 * causal −slope·(i + Nk − Nq − j), non-causal −slope·|i + Nk − Nq − j|.
 */
function logit(
  g: AttentionGeometry,
  m: SigmoidMath,
  pair: HeadPair,
  q: Float64Array,
  k: Float64Array,
  i: number,
  j: number,
): number {
  const distance = i + g.nk - g.nq - j;
  if (m.causal && distance < 0) return -Infinity;
  let dot = 0;
  const qi = pair.q + i * g.d;
  const kj = pair.k + j * g.d;
  for (let c = 0; c < g.d; c++) dot += q[qi + c] * k[kj + c];
  const slope = m.slopes === undefined ? 0 : m.slopes[pair.index];
  return m.scale * dot + m.bias - slope * Math.abs(distance);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** O = σ(S) V: q [B, H, Nq, d], k [B, Hkv, Nk, d], v [B, Hkv, Nk, e] → [B, H, Nq, e]. */
export function sigmoidForwardF64(
  g: AttentionGeometry,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  m: SigmoidMath,
): Float64Array {
  const out = new Float64Array(g.batch * g.heads * g.nq * g.e);
  for (const pair of headPairs(g)) {
    for (let i = 0; i < g.nq; i++) {
      const oi = pair.o + i * g.e;
      for (let j = 0; j < g.nk; j++) {
        const p = sigmoid(logit(g, m, pair, q, k, i, j));
        if (p === 0) continue;
        const vj = pair.v + j * g.e;
        for (let c = 0; c < g.e; c++) out[oi + c] += p * v[vj + c];
      }
    }
  }
  return out;
}

/** Gradients of the inputs of {@link sigmoidForwardF64}. */
export interface SigmoidGradsF64 {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

/** Backward: dV = Pᵀ dO, dP = dO Vᵀ, dS = P(1 − P) dP, dQ = scale·dS K, dK = scale·dSᵀ Q. */
export function sigmoidBackwardF64(
  g: AttentionGeometry,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dOut: Float64Array,
  m: SigmoidMath,
): SigmoidGradsF64 {
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (const pair of headPairs(g)) {
    for (let i = 0; i < g.nq; i++) {
      const qi = pair.q + i * g.d;
      const oi = pair.o + i * g.e;
      for (let j = 0; j < g.nk; j++) {
        const p = sigmoid(logit(g, m, pair, q, k, i, j));
        if (p === 0) continue;
        const kj = pair.k + j * g.d;
        const vj = pair.v + j * g.e;
        let dp = 0;
        for (let c = 0; c < g.e; c++) {
          dp += dOut[oi + c] * v[vj + c];
          dv[vj + c] += p * dOut[oi + c];
        }
        const ds = m.scale * p * (1 - p) * dp;
        for (let c = 0; c < g.d; c++) {
          dq[qi + c] += ds * k[kj + c];
          dk[kj + c] += ds * q[qi + c];
        }
      }
    }
  }
  return { dq, dk, dv };
}
