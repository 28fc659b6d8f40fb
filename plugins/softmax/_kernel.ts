// Softmax attention on f64 arrays, one query row at a time: row max, row sum, logsumexp; the
// backward recomputes P = exp(S − lse) and uses dS = P ⊙ (dP − rowsum(dO ⊙ O)).
import { type AttentionGeometry, type HeadPair, headPairs } from "../../core/nn/mod.ts";

/** The scalar parts of the score: S = scale·q·k − slope·|distance|, masked to −∞. */
export interface SoftmaxMath {
  scale: number;
  causal: boolean;
  /** Per (batch, head), index b·H + h; undefined without ALiBi. */
  slopes: Float64Array | undefined;
}

/**
 * Scores of query i against every key into `s` (−∞ where causal masking hides the key; key j is
 * visible when j ≤ i + Nk − Nq). ALiBi adds −slope·|i + Nk − Nq − j|, FlashAttention's convention.
 */
function scoreRow(
  g: AttentionGeometry,
  m: SoftmaxMath,
  pair: HeadPair,
  q: Float64Array,
  k: Float64Array,
  i: number,
  s: Float64Array,
): void {
  const slope = m.slopes === undefined ? 0 : m.slopes[pair.index];
  const qi = pair.q + i * g.d;
  for (let j = 0; j < g.nk; j++) {
    const distance = i + g.nk - g.nq - j;
    if (m.causal && distance < 0) {
      s[j] = -Infinity;
      continue;
    }
    let dot = 0;
    const kj = pair.k + j * g.d;
    for (let c = 0; c < g.d; c++) dot += q[qi + c] * k[kj + c];
    s[j] = m.scale * dot - slope * Math.abs(distance);
  }
}

/** Log of the sum of exp over a row; −∞ for a row with no visible key. */
function logSumExp(s: Float64Array): number {
  let max = -Infinity;
  for (const x of s) if (x > max) max = x;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const x of s) sum += Math.exp(x - max);
  return max + Math.log(sum);
}

/** Output [B, H, Nq, e] and logsumexp [B, H, Nq] of softmax attention. */
export interface SoftmaxForwardF64 {
  out: Float64Array;
  lse: Float64Array;
}

/** O = softmax(S) V; a fully masked row gives O = 0 and lse = −∞. */
export function softmaxForwardF64(
  g: AttentionGeometry,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  m: SoftmaxMath,
): SoftmaxForwardF64 {
  const out = new Float64Array(g.batch * g.heads * g.nq * g.e);
  const lse = new Float64Array(g.batch * g.heads * g.nq);
  const s = new Float64Array(g.nk);
  for (const pair of headPairs(g)) {
    for (let i = 0; i < g.nq; i++) {
      scoreRow(g, m, pair, q, k, i, s);
      const l = logSumExp(s);
      lse[pair.index * g.nq + i] = l;
      if (l === -Infinity) continue;
      const oi = pair.o + i * g.e;
      for (let j = 0; j < g.nk; j++) {
        const p = Math.exp(s[j] - l);
        if (p === 0) continue;
        const vj = pair.v + j * g.e;
        for (let c = 0; c < g.e; c++) out[oi + c] += p * v[vj + c];
      }
    }
  }
  return { out, lse };
}

/** Gradients of the inputs of {@link softmaxForwardF64}. */
export interface SoftmaxGradsF64 {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

/** Backward: D = rowsum(dO ⊙ O), dP = dO Vᵀ, dS = P(dP − D), dQ = scale·dS K, dK = scale·dSᵀ Q, dV = Pᵀ dO. */
export function softmaxBackwardF64(
  g: AttentionGeometry,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dOut: Float64Array,
  m: SoftmaxMath,
): SoftmaxGradsF64 {
  const { out, lse } = softmaxForwardF64(g, q, k, v, m);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const s = new Float64Array(g.nk);
  for (const pair of headPairs(g)) {
    for (let i = 0; i < g.nq; i++) {
      const l = lse[pair.index * g.nq + i];
      if (l === -Infinity) continue; // nothing visible: no gradient flows
      scoreRow(g, m, pair, q, k, i, s);
      const qi = pair.q + i * g.d;
      const oi = pair.o + i * g.e;
      let rowDot = 0;
      for (let c = 0; c < g.e; c++) rowDot += dOut[oi + c] * out[oi + c];
      for (let j = 0; j < g.nk; j++) {
        const p = Math.exp(s[j] - l);
        if (p === 0) continue;
        const kj = pair.k + j * g.d;
        const vj = pair.v + j * g.e;
        let dp = 0;
        for (let c = 0; c < g.e; c++) {
          dp += dOut[oi + c] * v[vj + c];
          dv[vj + c] += p * dOut[oi + c];
        }
        const ds = m.scale * p * (dp - rowDot);
        for (let c = 0; c < g.d; c++) {
          dq[qi + c] += ds * k[kj + c];
          dk[kj + c] += ds * q[qi + c];
        }
      }
    }
  }
  return { dq, dk, dv };
}
