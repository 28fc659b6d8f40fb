// Forward kernels of lightning attention over flat row-major arrays, one (batch, head) slab at a
// time: q, k [B, H, N, d], v [B, H, N, e] → o [B, H, N, e]. Temporaries and the blocked form's KV
// are f64; the decode state is f32, as the official inference keeps it. λ_h = exp(−s_h).
import type { Geometry } from "./_geometry.ts";

/** exp(−s·j) for j = 0 … n. */
function decayPowers(s: number, n: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let j = 0; j <= n; j++) out[j] = Math.exp(-s * j);
  return out;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += a[ai + i] * b[bi + i];
  return acc;
}

/** Runs `body(slab, s)` for every (batch, head) slab; `slab` is b·H + h. */
function forEachSlab(g: Geometry, s: Float64Array, body: (slab: number, rate: number) => void): void {
  for (let b = 0; b < g.batch; b++) for (let h = 0; h < g.heads; h++) body(b * g.heads + h, s[h]);
}

/** Naive causal form: o_t = Σ_{j≤t} λ^(t−j) (q_t·k_j) v_j. */
export function causalNaive(
  g: Geometry,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: Float64Array,
): Float32Array {
  const { length: n, d, e } = g;
  const out = new Float32Array(g.batch * g.heads * n * e);
  const acc = new Float64Array(e);
  forEachSlab(g, s, (slab, rate) => {
    const qk = slab * n * d;
    const ve = slab * n * e;
    for (let t = 0; t < n; t++) {
      acc.fill(0);
      for (let j = 0; j <= t; j++) {
        const w = Math.exp(-rate * (t - j)) * dot(q, qk + t * d, k, qk + j * d, d);
        for (let x = 0; x < e; x++) acc[x] += w * v[ve + j * e + x];
      }
      out.set(acc, ve + t * e);
    }
  });
  return out;
}

/**
 * Blocked (Lightning Attention-2) causal form. For the block [st, st + m):
 * o_{st+a} = λ^a q·KV + Σ_{c≤a} λ^(a−c) (q·k_c) v_c, then KV ← λ^m KV + Σ_c λ^(m−c) k_cᵀ v_c,
 * so that KV = Σ_{j<st} λ^(st−j) k_jᵀ v_j. A last block shorter than `blockSize` uses its own m.
 */
export function causalBlocked(
  g: Geometry,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: Float64Array,
  blockSize: number,
): Float32Array {
  const { length: n, d, e } = g;
  const out = new Float32Array(g.batch * g.heads * n * e);
  const kv = new Float64Array(d * e);
  const acc = new Float64Array(e);
  forEachSlab(g, s, (slab, rate) => {
    const qk = slab * n * d;
    const ve = slab * n * e;
    const pow = decayPowers(rate, blockSize);
    kv.fill(0);
    for (let st = 0; st < n; st += blockSize) {
      const m = Math.min(blockSize, n - st);
      for (let a = 0; a < m; a++) {
        const qi = qk + (st + a) * d;
        acc.fill(0);
        for (let i = 0; i < d; i++) {
          const qa = q[qi + i] * pow[a];
          for (let x = 0; x < e; x++) acc[x] += qa * kv[i * e + x];
        }
        for (let c = 0; c <= a; c++) {
          const w = pow[a - c] * dot(q, qi, k, qk + (st + c) * d, d);
          for (let x = 0; x < e; x++) acc[x] += w * v[ve + (st + c) * e + x];
        }
        out.set(acc, ve + (st + a) * e);
      }
      for (let i = 0; i < d * e; i++) kv[i] *= pow[m];
      for (let c = 0; c < m; c++) {
        const kc = qk + (st + c) * d;
        const vc = ve + (st + c) * e;
        for (let i = 0; i < d; i++) {
          const ki = pow[m - c] * k[kc + i];
          for (let x = 0; x < e; x++) kv[i * e + x] += ki * v[vc + x];
        }
      }
    }
  });
  return out;
}

/**
 * Recurrent form, one token at a time: kv ← λ kv + k_tᵀ v_t (f32 state [B, H, d, e], updated in
 * place), o_t = q_t kv.
 */
export function recurrentSteps(
  g: Geometry,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: Float64Array,
  kv: Float32Array,
): Float32Array {
  const { length: n, d, e } = g;
  const out = new Float32Array(g.batch * g.heads * n * e);
  const acc = new Float64Array(e);
  forEachSlab(g, s, (slab, rate) => {
    const qk = slab * n * d;
    const ve = slab * n * e;
    const state = slab * d * e;
    const lambda = Math.exp(-rate);
    for (let t = 0; t < n; t++) {
      for (let i = 0; i < d; i++) {
        const ki = k[qk + t * d + i];
        const row = state + i * e;
        for (let x = 0; x < e; x++) kv[row + x] = lambda * kv[row + x] + ki * v[ve + t * e + x];
      }
      acc.fill(0);
      for (let i = 0; i < d; i++) {
        const qi = q[qk + t * d + i];
        const row = state + i * e;
        for (let x = 0; x < e; x++) acc[x] += qi * kv[row + x];
      }
      out.set(acc, ve + t * e);
    }
  });
  return out;
}

/** Naive bidirectional form: o_t = Σ_j λ^|t−j| (q_t·k_j) v_j (the diagonal j = t counted once). */
export function bidirectionalNaive(
  g: Geometry,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: Float64Array,
): Float32Array {
  const { length: n, d, e } = g;
  const out = new Float32Array(g.batch * g.heads * n * e);
  const acc = new Float64Array(e);
  forEachSlab(g, s, (slab, rate) => {
    const qk = slab * n * d;
    const ve = slab * n * e;
    for (let t = 0; t < n; t++) {
      acc.fill(0);
      for (let j = 0; j < n; j++) {
        const w = Math.exp(-rate * Math.abs(t - j)) * dot(q, qk + t * d, k, qk + j * d, d);
        for (let x = 0; x < e; x++) acc[x] += w * v[ve + j * e + x];
      }
      out.set(acc, ve + t * e);
    }
  });
  return out;
}

/**
 * Bidirectional form as two scans: a forward scan F_t = λ F_{t−1} + k_tᵀ v_t (j ≤ t, diagonal
 * included) and a backward scan R_t = λ (R_{t+1} + k_{t+1}ᵀ v_{t+1}) (j > t only); o_t = q_t (F_t + R_t).
 */
export function bidirectionalScan(
  g: Geometry,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: Float64Array,
): Float32Array {
  const { length: n, d, e } = g;
  const out = new Float32Array(g.batch * g.heads * n * e);
  const state = new Float64Array(d * e);
  forEachSlab(g, s, (slab, rate) => {
    const qk = slab * n * d;
    const ve = slab * n * e;
    const lambda = Math.exp(-rate);
    const read = (t: number): void => {
      for (let i = 0; i < d; i++) {
        const qi = q[qk + t * d + i];
        for (let x = 0; x < e; x++) out[ve + t * e + x] += qi * state[i * e + x];
      }
    };
    const absorb = (t: number): void => {
      for (let i = 0; i < d; i++) {
        const ki = k[qk + t * d + i];
        for (let x = 0; x < e; x++) state[i * e + x] += ki * v[ve + t * e + x];
      }
    };
    const decay = (): void => {
      for (let i = 0; i < d * e; i++) state[i] *= lambda;
    };
    state.fill(0);
    for (let t = 0; t < n; t++) {
      decay();
      absorb(t);
      read(t);
    }
    state.fill(0);
    for (let t = n - 1; t >= 0; t--) {
      read(t);
      absorb(t);
      decay();
    }
  });
  return out;
}
