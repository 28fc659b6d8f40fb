// The linear-time core of causal agent attention in plain loops (the reference of _op_scan.ts,
// which the mixers run): per batch, head and agent a running max m,
// running sum l and running numerator u (like online softmax), so the aggregation softmax is
// normalised over the visible prefix. O(n·e) state per head, O(n·(d + e)) work per token.

/** Running aggregation statistics of B·H heads × n agents (fp64, independent of length). */
export class AgentScanState {
  /** Running max of agent→key scores, [B·H·n]. */
  readonly max: Float64Array;
  /** Running Σ exp(score − max), [B·H·n]. */
  readonly sum: Float64Array;
  /** Running Σ exp(score − max)·v, [B·H·n·e]. */
  readonly numerator: Float64Array;
  constructor(readonly heads: number, readonly agents: number, readonly valueDim: number) {
    this.max = new Float64Array(heads * agents).fill(-Infinity);
    this.sum = new Float64Array(heads * agents);
    this.numerator = new Float64Array(heads * agents * valueDim);
  }
}

/**
 * Consumes T tokens: `scores` [BH, n, T] (s·A·k_t), `probs` [BH, T, n] (softmax over agents of
 * s·q_t·A), `values` [BH, T, e]; returns o [BH, T, e] and advances `state`.
 */
export function agentScan(
  scores: Float32Array,
  probs: Float32Array,
  values: Float32Array,
  tokens: number,
  state: AgentScanState,
): Float32Array {
  const { heads: bh, agents: n, valueDim: e } = state;
  const { max, sum, numerator } = state;
  const out = new Float32Array(bh * tokens * e);
  const acc = new Float64Array(e);
  for (let hi = 0; hi < bh; hi++) {
    for (let t = 0; t < tokens; t++) {
      const vo = (hi * tokens + t) * e;
      acc.fill(0);
      for (let a = 0; a < n; a++) {
        const sa = hi * n + a;
        const score = scores[sa * tokens + t];
        const m = Math.max(max[sa], score);
        const decay = Math.exp(max[sa] - m); // 0 on the first token (max was −∞)
        const weight = Math.exp(score - m);
        max[sa] = m;
        sum[sa] = sum[sa] * decay + weight;
        const u = sa * e;
        const p = probs[(hi * tokens + t) * n + a] / sum[sa];
        for (let i = 0; i < e; i++) {
          numerator[u + i] = numerator[u + i] * decay + weight * values[vo + i];
          acc[i] += p * numerator[u + i];
        }
      }
      for (let i = 0; i < e; i++) out[vo + i] = acc[i];
    }
  }
  return out;
}
