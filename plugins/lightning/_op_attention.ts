// Lightning attention from core ops, so it runs on whichever device holds q, k, v. Per head h,
// λ_h = exp(−s_h). Causal: o_t = Σ_{j≤t} λ^(t−j) (q_t·k_j) v_j, computed chunk by chunk with an
// f32 state S = Σ_{j≤t} λ^(t−j) k_jᵀ v_j (the recurrent decode's state). Bidirectional:
// o_t = Σ_j λ^|t−j| (q_t·k_j) v_j. The decay tables are host constants, built once per size.
import type { DType } from "../../core/dtype.ts";
import { add, cast, concat, matmul, mul, narrow, toDevice } from "../../core/ops.ts";
import { type Device, type Tensor, tensor } from "../../core/tensor.ts";

/** Decay tables of one mixer (per chunk length), owned and disposed by it. */
export class DecayTables implements Disposable {
  readonly #tables = new Map<string, Tensor>();
  constructor(
    readonly rates: Float64Array,
    readonly dtype: DType,
    readonly device: Device,
  ) {}

  /** [1, H, m, m]: λ^(a−c) for c ≤ a, else 0 (or λ^|a−c| everywhere when `bidirectional`). */
  mask(m: number, bidirectional: boolean): Tensor {
    return this.#get(`${bidirectional ? "bi" : "causal"}:${m}`, [1, this.rates.length, m, m], this.dtype, (s, i) => {
      const a = Math.floor(i / m), c = i % m;
      return bidirectional || c <= a ? Math.exp(-s * Math.abs(a - c)) : 0;
    });
  }

  /** [1, H, m, 1]: λ^(a+first) for a = 0 … m−1, in f32 (it scales the f32 state's reads and writes). */
  powers(m: number, first: number, descending: boolean): Tensor {
    return this.#get(`pow:${m}:${first}:${descending}`, [1, this.rates.length, m, 1], "f32", (s, a) => {
      return Math.exp(-s * ((descending ? m - 1 - a : a) + first));
    });
  }

  /** [1, H, 1, 1]: λ^m, in f32. */
  total(m: number): Tensor {
    return this.#get(`total:${m}`, [1, this.rates.length, 1, 1], "f32", (s) => Math.exp(-s * m));
  }

  #get(key: string, shape: number[], dtype: DType, value: (rate: number, i: number) => number): Tensor {
    const cached = this.#tables.get(key);
    if (cached !== undefined) return cached;
    const per = shape[2] * shape[3];
    const values = new Float32Array(this.rates.length * per);
    this.rates.forEach((s, h) => {
      for (let i = 0; i < per; i++) values[h * per + i] = value(s, i);
    });
    const host = tensor(values, { shape, dtype });
    let table = host;
    if (this.device !== "cpu") {
      table = toDevice(host, this.device);
      host.dispose();
    }
    this.#tables.set(key, table);
    return table;
  }

  [Symbol.dispose](): void {
    for (const t of this.#tables.values()) t.dispose();
    this.#tables.clear();
  }
}

function asF32(x: Tensor): Tensor {
  return x.dtype === "f32" ? x.reshape(x.shape) : cast(x, "f32");
}

/**
 * One causal chunk of m tokens after the state `kv` (f32 [B, H, d, e], undefined when empty):
 * o_a = Σ_{c≤a} λ^(a−c) (q_a·k_c) v_c + λ^(a+1) q_a S; returns o [B, H, m, e] in q's dtype and the
 * new state λ^m S + Σ_c λ^(m−1−c) k_cᵀ v_c.
 */
export function causalChunk(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  kv: Tensor | undefined,
  tables: DecayTables,
): [Tensor, Tensor] {
  const m = q.shape[2];
  using scores = matmul(q, k, { transB: true });
  using decayed = mul(scores, tables.mask(m, false));
  const intra = matmul(decayed, v);
  let out = intra;
  if (kv !== undefined) {
    using _intra = intra;
    using q32 = asF32(q);
    using qDecayed = mul(q32, tables.powers(m, 1, false));
    using inter32 = matmul(qDecayed, kv);
    using inter = inter32.dtype === q.dtype ? inter32.reshape(inter32.shape) : cast(inter32, q.dtype);
    out = add(intra, inter);
  }
  using k32 = asF32(k);
  using v32 = asF32(v);
  using kDecayed = mul(k32, tables.powers(m, 0, true));
  using update = matmul(kDecayed, v32, { transA: true });
  if (kv === undefined) return [out, update.reshape(update.shape)];
  using carried = mul(kv, tables.total(m));
  return [out, add(carried, update)];
}

/**
 * Causal attention of q, k [B, H, N, d], v [B, H, N, e] after `kv` (undefined: empty), in chunks
 * of `chunk` tokens; returns o [B, H, N, e] and the state after the last token.
 */
export function causalAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  kv: Tensor | undefined,
  tables: DecayTables,
  chunk: number,
): [Tensor, Tensor] {
  const n = q.shape[2];
  const outputs: Tensor[] = [];
  let state = kv;
  try {
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      using qc = narrow(q, 2, start, m);
      using kc = narrow(k, 2, start, m);
      using vc = narrow(v, 2, start, m);
      const [o, next] = causalChunk(qc, kc, vc, state, tables);
      outputs.push(o);
      if (state !== kv) state?.dispose();
      state = next;
    }
    const out = outputs.length === 1 ? outputs.pop()! : concat(outputs, 2);
    return [out, state!];
  } finally {
    for (const t of outputs) t.dispose();
  }
}

/** Bidirectional attention: ((q kᵀ) ⊙ λ^|t−j|) v over all N tokens. */
export function bidirectionalAttention(q: Tensor, k: Tensor, v: Tensor, tables: DecayTables): Tensor {
  using scores = matmul(q, k, { transB: true });
  using decayed = mul(scores, tables.mask(q.shape[2], true));
  return matmul(decayed, v);
}
