/**
 * Gradients of causal lightning attention o_t = Σ_{j≤t} λ^(t−j) (q_t·k_j) v_j with respect to
 * q, k and v, given dO:
 *   dq_t = Σ_{j≤t} λ^(t−j) (dO_t·v_j) k_j,
 *   dk_j = Σ_{t≥j} λ^(t−j) (dO_t·v_j) q_t,
 *   dv_j = Σ_{t≥j} λ^(t−j) (q_t·k_j) dO_t.
 * Two forms: the naive quadratic sums, and the blocked Lightning Attention-2 backward (intra-block
 * masked products plus a forward KV loop for dq and a reverse dKV loop for dk, dv).
 *
 * @module
 */
import { type Tensor, tensor } from "../../core/tensor.ts";
import { checkBlockSize, checkHeads, checkOutputGrad, type DecayRates, type Geometry, readDecay } from "./_geometry.ts";

/** dq, dk, dv in the dtype of q. */
export interface LightningGrads {
  /** Gradient of q [B, H, N, d]. */
  dq: Tensor;
  /** Gradient of k [B, H, N, d]. */
  dk: Tensor;
  /** Gradient of v [B, H, N, e]. */
  dv: Tensor;
}

interface Arrays {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dO: Float32Array;
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += a[ai + i] * b[bi + i];
  return acc;
}

/** Adds w·src[si …] into the f64 accumulator. */
function axpy(acc: Float64Array, w: number, src: Float32Array, si: number): void {
  for (let i = 0; i < acc.length; i++) acc[i] += w * src[si + i];
}

function naiveSlab(g: Geometry, a: Arrays, slab: number, rate: number): void {
  const { length: n, d, e } = g;
  const qk = slab * n * d;
  const ve = slab * n * e;
  const accD = new Float64Array(d);
  const accE = new Float64Array(e);
  for (let t = 0; t < n; t++) {
    accD.fill(0);
    for (let j = 0; j <= t; j++) {
      axpy(accD, Math.exp(-rate * (t - j)) * dot(a.dO, ve + t * e, a.v, ve + j * e, e), a.k, qk + j * d);
    }
    a.dq.set(accD, qk + t * d);
  }
  for (let j = 0; j < n; j++) {
    accD.fill(0);
    accE.fill(0);
    for (let t = j; t < n; t++) {
      const decay = Math.exp(-rate * (t - j));
      axpy(accD, decay * dot(a.dO, ve + t * e, a.v, ve + j * e, e), a.q, qk + t * d);
      axpy(accE, decay * dot(a.q, qk + t * d, a.k, qk + j * d, d), a.dO, ve + t * e);
    }
    a.dk.set(accD, qk + j * d);
    a.dv.set(accE, ve + j * e);
  }
}

/**
 * Blocked backward of one slab. Forward loop: dq = intra + λ^a dO_t KVᵀ with KV as in the forward.
 * Reverse loop with dKV = Σ_{t ≥ end} λ^(t−end) q_tᵀ dO_t [d, e]: dk_c += λ^(m−c) dKV v_c,
 * dv_c += λ^(m−c) dKVᵀ k_c, then dKV ← λ^m dKV + Σ_a λ^a q_aᵀ dO_a for the block's rows a.
 */
function blockedSlab(g: Geometry, a: Arrays, slab: number, rate: number, blockSize: number): void {
  const { length: n, d, e } = g;
  const qk = slab * n * d;
  const ve = slab * n * e;
  const pow = new Float64Array(blockSize + 1);
  for (let j = 0; j <= blockSize; j++) pow[j] = Math.exp(-rate * j);
  const state = new Float64Array(d * e);
  const accD = new Float64Array(d);
  const accE = new Float64Array(e);

  for (let st = 0; st < n; st += blockSize) {
    const m = Math.min(blockSize, n - st);
    for (let r = 0; r < m; r++) {
      const t = st + r;
      accD.fill(0);
      for (let i = 0; i < d; i++) {
        let inter = 0;
        for (let x = 0; x < e; x++) inter += a.dO[ve + t * e + x] * state[i * e + x];
        accD[i] = pow[r] * inter;
      }
      for (let c = 0; c <= r; c++) {
        axpy(accD, pow[r - c] * dot(a.dO, ve + t * e, a.v, ve + (st + c) * e, e), a.k, qk + (st + c) * d);
      }
      a.dq.set(accD, qk + t * d);
    }
    for (let i = 0; i < d * e; i++) state[i] *= pow[m];
    for (let c = 0; c < m; c++) {
      for (let i = 0; i < d; i++) {
        const ki = pow[m - c] * a.k[qk + (st + c) * d + i];
        for (let x = 0; x < e; x++) state[i * e + x] += ki * a.v[ve + (st + c) * e + x];
      }
    }
  }

  state.fill(0);
  const lastStart = Math.floor((n - 1) / blockSize) * blockSize;
  for (let st = lastStart; st >= 0; st -= blockSize) {
    const m = Math.min(blockSize, n - st);
    for (let c = 0; c < m; c++) {
      const j = st + c;
      accD.fill(0);
      accE.fill(0);
      for (let i = 0; i < d; i++) {
        let inter = 0;
        for (let x = 0; x < e; x++) inter += state[i * e + x] * a.v[ve + j * e + x];
        accD[i] = pow[m - c] * inter;
        const ki = pow[m - c] * a.k[qk + j * d + i];
        for (let x = 0; x < e; x++) accE[x] += ki * state[i * e + x];
      }
      for (let r = c; r < m; r++) {
        const t = st + r;
        axpy(accD, pow[r - c] * dot(a.dO, ve + t * e, a.v, ve + j * e, e), a.q, qk + t * d);
        axpy(accE, pow[r - c] * dot(a.q, qk + t * d, a.k, qk + j * d, d), a.dO, ve + t * e);
      }
      a.dk.set(accD, qk + j * d);
      a.dv.set(accE, ve + j * e);
    }
    for (let i = 0; i < d * e; i++) state[i] *= pow[m];
    for (let r = 0; r < m; r++) {
      for (let i = 0; i < d; i++) {
        const qi = pow[r] * a.q[qk + (st + r) * d + i];
        for (let x = 0; x < e; x++) state[i * e + x] += qi * a.dO[ve + (st + r) * e + x];
      }
    }
  }
}

function run(
  op: string,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  s: DecayRates,
  dOut: Tensor,
  slabFn: (g: Geometry, a: Arrays, slab: number, rate: number) => void,
): LightningGrads {
  const g = checkHeads(op, q, k, v);
  checkOutputGrad(op, g, q, dOut);
  const rates = readDecay(op, s, g.heads);
  const a: Arrays = {
    q: q.toFloat32Array(),
    k: k.toFloat32Array(),
    v: v.toFloat32Array(),
    dO: dOut.toFloat32Array(),
    dq: new Float32Array(q.size),
    dk: new Float32Array(k.size),
    dv: new Float32Array(v.size),
  };
  for (let b = 0; b < g.batch; b++) {
    for (let h = 0; h < g.heads; h++) slabFn(g, a, b * g.heads + h, rates[h]);
  }
  return {
    dq: tensor(a.dq, { shape: q.shape, dtype: q.dtype }),
    dk: tensor(a.dk, { shape: k.shape, dtype: q.dtype }),
    dv: tensor(a.dv, { shape: v.shape, dtype: q.dtype }),
  };
}

/** Gradients of causal lightning attention from the naive quadratic sums. */
export function lightningBackwardNaive(q: Tensor, k: Tensor, v: Tensor, s: DecayRates, dOut: Tensor): LightningGrads {
  return run("lightningBackwardNaive", q, k, v, s, dOut, naiveSlab);
}

/** Gradients of causal lightning attention from the blocked Lightning Attention-2 backward. */
export function lightningBackwardBlocked(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  s: DecayRates,
  dOut: Tensor,
  blockSize = 64,
): LightningGrads {
  checkBlockSize("lightningBackwardBlocked", blockSize);
  return run(
    "lightningBackwardBlocked",
    q,
    k,
    v,
    s,
    dOut,
    (g, a, slab, rate) => blockedSlab(g, a, slab, rate, blockSize),
  );
}
