/**
 * Dot-product attention from public ops ("eager" in transformers' terms): scores = scale·q kᵀ plus
 * an optional per-head positional term and the causal mask, turned into weights by a function the
 * caller chooses (softmax, sigmoid, …), then weights·v. GQA/MQA query heads are grouped onto their
 * key/value head by a reshape, so k and v are never repeated.
 *
 * @module
 */
import { add, affine, matmul, mul, narrow, toDevice } from "../ops.ts";
import { type Tensor, tensor } from "../tensor.ts";

/** Options of {@linkcode eagerAttention}. */
export interface EagerAttentionOptions {
  /** Hide key j from query i when its distance (queryOffset + i − j) is negative. */
  causal: boolean;
  /** Key position of query 0: Nk − Nq when the queries are the last Nq tokens (decode). */
  queryOffset: number;
  /** Keys to attend: the first keyLength along k's and v's axis 2 (default all of them). */
  keyLength?: number;
  /** Score scale; default d^-½. */
  scale?: number;
  /** A constant added to every score (sigmoid's b), folded into the scaling: no table. */
  scoreBias?: number;
  /** ALiBi: −slopes[h]·|queryOffset + i − j| added to query head h's scores, built with ops. */
  alibiSlopes?: ArrayLike<number>;
  /**
   * Any other term added to the score of query head h at distance queryOffset + i − j. It is
   * tabulated on the host for every head on every call: prefer `scoreBias` and `alibiSlopes`.
   */
  scoreOffset?: (head: number, distance: number) => number;
  /** Scores [B, Hkv, group·Nq, Nk] → weights of the same shape, e.g. softmax over the last dim. */
  weights: (scores: Tensor) => Tensor;
}

/**
 * Additive score terms [1, Hkv, group·Nq, Nk] (the [1, H, Nq, Nk] layout grouped for GQA), −∞
 * where causal masking hides the key, in `like`'s dtype on its device.
 */
function scoreTerms(like: Tensor, kvHeads: number, nk: number, options: EagerAttentionOptions): Tensor {
  const [, heads, nq] = like.shape;
  const values = new Float32Array(heads * nq * nk);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < nq; i++) {
      for (let j = 0; j < nk; j++) {
        const distance = options.queryOffset + i - j;
        const hidden = options.causal && distance < 0;
        values[(h * nq + i) * nk + j] = hidden ? -Infinity : options.scoreOffset?.(h, distance) ?? 0;
      }
    }
  }
  const host = tensor(values, { shape: [1, kvHeads, (heads / kvHeads) * nq, nk], dtype: like.dtype });
  if (like.device === "cpu") return host;
  using _host = host;
  return toDevice(host, like.device);
}

/** A head-independent [1, 1, Nq, Nk] table: the causal mask (0 or −∞) or |distance|. */
type PositionTable = "mask" | "distance";

/** Recent position tables: every layer of a forward pass asks for the same ones. */
const positionTables = new Map<string, Tensor>();
const POSITION_TABLES_KEPT = 4;

function positionTable(like: Tensor, kind: PositionTable, nq: number, nk: number, queryOffset: number): Tensor {
  const key = `${kind}|${like.device}|${like.dtype}|${nq}|${nk}|${queryOffset}`;
  const cached = positionTables.get(key);
  if (cached !== undefined && !cached.disposed) return cached;
  const values = new Float32Array(nq * nk);
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < nk; j++) {
      const distance = queryOffset + i - j;
      values[i * nk + j] = kind === "distance" ? Math.abs(distance) : distance < 0 ? -Infinity : 0;
    }
  }
  const host = tensor(values, { shape: [1, 1, nq, nk], dtype: like.dtype });
  const table = like.device === "cpu" ? host : toDevice(host, like.device);
  if (table !== host) host.dispose();
  positionTables.set(key, table);
  if (positionTables.size > POSITION_TABLES_KEPT) {
    const [oldest, evicted] = positionTables.entries().next().value!;
    positionTables.delete(oldest);
    evicted.dispose();
  }
  return table;
}

/** −slopes as [1, H, 1, 1] in `like`'s dtype on its device. */
function negatedSlopes(like: Tensor, slopes: ArrayLike<number>): Tensor {
  const host = tensor(Float32Array.from(slopes, (x) => -x), { shape: [1, slopes.length, 1, 1], dtype: like.dtype });
  if (like.device === "cpu") return host;
  using _host = host;
  return toDevice(host, like.device);
}

/** Adds the causal mask and ALiBi to scores viewed as [B, H, Nq, Nk], from broadcast tables. */
function addPositionTerms(scores: Tensor, heads: number, nq: number, options: EagerAttentionOptions): Tensor {
  const [batch, , , nk] = scores.shape;
  const masks = options.causal && options.queryOffset < nk - 1; // one-token decode sees every key
  if (!masks && options.alibiSlopes === undefined) return scores.reshape(scores.shape);
  let current = scores.reshape([batch, heads, nq, nk]);
  try {
    if (masks) {
      const next = add(current, positionTable(scores, "mask", nq, nk, options.queryOffset));
      current.dispose();
      current = next;
    }
    if (options.alibiSlopes !== undefined) {
      using slopes = negatedSlopes(scores, options.alibiSlopes);
      using alibi = mul(slopes, positionTable(scores, "distance", nq, nk, options.queryOffset));
      const next = add(current, alibi);
      current.dispose();
      current = next;
    }
    return current.reshape(scores.shape);
  } finally {
    current.dispose();
  }
}

/**
 * Attention of q [B, H, Nq, d] over k [B, Hkv, Nk, d] and v [B, Hkv, Nk, e] → [B, H, Nq, e]
 * (Nk = keyLength when given: longer k and v, e.g. a KV cache's spare capacity, are cut to it).
 */
export function eagerAttention(q: Tensor, k: Tensor, v: Tensor, options: EagerAttentionOptions): Tensor {
  const keyLength = options.keyLength ?? k.shape[2];
  if (keyLength < k.shape[2]) {
    using keys = narrow(k, 2, 0, keyLength);
    using values = narrow(v, 2, 0, keyLength);
    return eagerAttention(q, keys, values, { ...options, keyLength });
  }
  const [batch, heads, nq, d] = q.shape;
  const [, kvHeads, nk] = k.shape;
  using grouped = q.reshape([batch, kvHeads, (heads / kvHeads) * nq, d]);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  // the scale rides on the GEMM; only a score bias needs its own pass
  using dots = matmul(grouped, k, { transB: true, scale });
  using scaled = options.scoreBias ? affine(dots, 1, options.scoreBias) : dots.reshape(dots.shape);
  let logits: Tensor;
  if (options.scoreOffset !== undefined) {
    using terms = scoreTerms(q, kvHeads, nk, options);
    logits = add(scaled, terms);
  } else {
    // grouped scores [B, Hkv, group·Nq, Nk] are [B, H, Nq, Nk] in memory: tables broadcast over heads
    logits = addPositionTerms(scaled, heads, nq, options);
  }
  using _logits = logits;
  using weights = options.weights(logits);
  using mixed = matmul(weights, v);
  return mixed.reshape([batch, heads, nq, v.shape[3]]);
}
