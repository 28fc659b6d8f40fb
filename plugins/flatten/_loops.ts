// Plain float64 loops shared by the functional reference and the reference layer: the focused
// kernel φ and the three forms of the linear attention core. Rows are tokens, channels are
// head-major (channel = head·d + j), as after the official `reshape(B, N, heads, d)`.

/** The official eps: added after ReLU, and to the normaliser q·mean(k). */
export const EPS = 1e-6;

/** PyTorch's softplus (β = 1, threshold 20). */
export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/**
 * φ(x) row by row: y = (ReLU(x) + eps) / softplus(scale), then ‖y‖·y^p/‖y^p‖ with both norms over
 * all `channels` of the token (every head together), as the official code does.
 */
export function focus(
  x: ArrayLike<number>,
  rows: number,
  channels: number,
  scale: ArrayLike<number>,
  p: number,
): Float64Array {
  const out = new Float64Array(rows * channels);
  const divisor = Array.from({ length: channels }, (_, c) => softplus(scale[c]));
  for (let r = 0; r < rows; r++) {
    const base = r * channels;
    let norm = 0;
    let normP = 0;
    for (let c = 0; c < channels; c++) {
      const y = (Math.max(x[base + c], 0) + EPS) / divisor[c];
      const yp = y ** p;
      norm += y * y;
      normP += yp * yp;
      out[base + c] = yp;
    }
    const factor = Math.sqrt(norm) / Math.sqrt(normP);
    for (let c = 0; c < channels; c++) out[base + c] *= factor;
  }
  return out;
}

/** Shapes of one attention core call: q rows [B, N, C], k and v rows [B, n, C], `heads` heads. */
export interface CoreShape {
  batch: number;
  queries: number;
  keys: number;
  channels: number;
  heads: number;
}

/**
 * Non-causal core: out_i = (q_i · kv) · z_i with kv = kᵀv / n and z_i = 1 / (q_i · mean(k) + eps).
 * `kvFirst` builds the d×d matrix kᵀv; otherwise the N×n matrix q kᵀ is formed and applied to v.
 */
export function linearAttention(
  q: Float64Array,
  k: Float64Array,
  v: ArrayLike<number>,
  shape: CoreShape,
  kvFirst: boolean,
): Float64Array {
  const { batch, queries: nq, keys: nk, channels, heads } = shape;
  const d = channels / heads;
  const out = new Float64Array(batch * nq * channels);
  const kMean = new Float64Array(d);
  const kv = new Float64Array(d * d);
  const row = new Float64Array(nk);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const qAt = (i: number, j: number) => q[(b * nq + i) * channels + h * d + j];
      const kAt = (t: number, j: number) => k[(b * nk + t) * channels + h * d + j];
      const vAt = (t: number, e: number) => v[(b * nk + t) * channels + h * d + e];
      kMean.fill(0);
      for (let t = 0; t < nk; t++) for (let j = 0; j < d; j++) kMean[j] += kAt(t, j) / nk;
      if (kvFirst) {
        kv.fill(0);
        for (let t = 0; t < nk; t++) {
          for (let j = 0; j < d; j++) for (let e = 0; e < d; e++) kv[j * d + e] += kAt(t, j) * vAt(t, e);
        }
        for (let j = 0; j < d * d; j++) kv[j] /= nk;
      }
      for (let i = 0; i < nq; i++) {
        let qk = 0;
        for (let j = 0; j < d; j++) qk += qAt(i, j) * kMean[j];
        const z = 1 / (qk + EPS);
        const o = (b * nq + i) * channels + h * d;
        if (kvFirst) {
          for (let e = 0; e < d; e++) {
            let s = 0;
            for (let j = 0; j < d; j++) s += qAt(i, j) * kv[j * d + e];
            out[o + e] = s * z;
          }
        } else {
          for (let t = 0; t < nk; t++) {
            let s = 0;
            for (let j = 0; j < d; j++) s += qAt(i, j) * kAt(t, j);
            row[t] = s;
          }
          for (let e = 0; e < d; e++) {
            let s = 0;
            for (let t = 0; t < nk; t++) s += row[t] * vAt(t, e);
            out[o + e] = (s / nk) * z;
          }
        }
      }
    }
  }
  return out;
}

/**
 * Causal core in prefix-sum form: token t (t + 1 visible) gets (q_t · S_t/(t+1)) / (q_t · σ_t/(t+1) + eps)
 * with S_t = Σ_{s≤t} k_sᵀ v_s and σ_t = Σ_{s≤t} k_s — the non-causal formula applied to the prefix.
 */
export function causalLinearAttention(
  q: Float64Array,
  k: Float64Array,
  v: ArrayLike<number>,
  shape: CoreShape,
): Float64Array {
  const { batch, queries: n, channels, heads } = shape;
  const d = channels / heads;
  const out = new Float64Array(batch * n * channels);
  const kv = new Float64Array(d * d);
  const kSum = new Float64Array(d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      kv.fill(0);
      kSum.fill(0);
      for (let t = 0; t < n; t++) {
        const o = (b * n + t) * channels + h * d;
        for (let j = 0; j < d; j++) {
          kSum[j] += k[o + j];
          for (let e = 0; e < d; e++) kv[j * d + e] += k[o + j] * v[o + e];
        }
        const visible = t + 1;
        let qk = 0;
        for (let j = 0; j < d; j++) qk += q[o + j] * kSum[j];
        const z = 1 / (qk / visible + EPS);
        for (let e = 0; e < d; e++) {
          let s = 0;
          for (let j = 0; j < d; j++) s += q[o + j] * kv[j * d + e];
          out[o + e] = (s / visible) * z;
        }
      }
    }
  }
  return out;
}

/** The order rule of the first official release: kᵀv first when N·n·2d > d²·(N + n). */
export function kvFirstIsCheaper(queries: number, keys: number, headDim: number): boolean {
  return queries * keys * 2 * headDim > headDim * headDim * (queries + keys);
}
