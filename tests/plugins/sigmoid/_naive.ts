// An independent, deliberately naive sigmoid attention for the tests: repeat k/v heads to MHA,
// materialise the whole score matrix with an explicit bias matrix, apply σ, multiply by V.
import type { Tensor } from "../../../core/tensor.ts";

/** Options of {@link naiveSigmoid}. */
export interface NaiveOptions {
  bias: number;
  causal?: boolean;
  scale?: number;
  /** Per (batch, head), length B·H. */
  slopes?: number[];
  /** Applied to each q and k row before the product. */
  normQ?: (row: number[]) => number[];
  normK?: (row: number[]) => number[];
}

function rows(t: Tensor): number[][][][] {
  return t.toArray() as number[][][][];
}

/** σ(s·QKᵀ + b − slope·|i + Nk − Nq − j| or −∞) V, as nested arrays [B][H][Nq][e]. */
export function naiveSigmoid(q: Tensor, k: Tensor, v: Tensor, o: NaiveOptions): number[][][][] {
  const [B, H, Nq, d] = q.shape;
  const [, Hkv, Nk] = k.shape;
  const qa = rows(q);
  const ka = rows(k);
  const va = rows(v);
  const s = o.scale ?? 1 / Math.sqrt(d);
  const out: number[][][][] = [];
  for (let b = 0; b < B; b++) {
    out.push([]);
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / Hkv)); // repeat_interleave of the k/v heads
      const Q = qa[b][h].map((r) => (o.normQ ? o.normQ(r) : r));
      const K = ka[b][kvh].map((r) => (o.normK ? o.normK(r) : r));
      const V = va[b][kvh];
      const slope = o.slopes ? o.slopes[b * H + h] : 0;
      const P = Q.map((qi, i) =>
        K.map((kj, j) => {
          const rel = i + Nk - Nq - j;
          if (o.causal && j > i + Nk - Nq) return 0;
          const score = s * qi.reduce((acc, x, c) => acc + x * kj[c], 0) + o.bias - slope * Math.abs(rel);
          return 1 / (1 + Math.exp(-score));
        })
      );
      out[b].push(P.map((pi) => V[0].map((_, c) => pi.reduce((acc, p, j) => acc + p * V[j][c], 0))));
    }
  }
  return out;
}

/** Flattens nested arrays of numbers. */
export function flat(x: unknown): number[] {
  return (x as unknown[]).flat(Infinity as 1) as number[];
}
