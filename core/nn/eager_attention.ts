/**
 * Dot-product attention from public ops ("eager" in transformers' terms): scores = scale·q kᵀ plus
 * an optional per-head positional term and the causal mask, turned into weights by a function the
 * caller chooses (softmax, sigmoid, …), then weights·v. GQA/MQA query heads are grouped onto their
 * key/value head by a reshape, so k and v are never repeated.
 *
 * @module
 */
import { add, affine, matmul, toDevice } from "../ops.ts";
import { type Tensor, tensor } from "../tensor.ts";

/** Options of {@linkcode eagerAttention}. */
export interface EagerAttentionOptions {
  /** Hide key j from query i when its distance (queryOffset + i − j) is negative. */
  causal: boolean;
  /** Key position of query 0: Nk − Nq when the queries are the last Nq tokens (decode). */
  queryOffset: number;
  /** Score scale; default d^-½. */
  scale?: number;
  /** A constant added to every score (sigmoid's b), folded into the scaling: no table. */
  scoreBias?: number;
  /** Term added to the score of query head h at distance queryOffset + i − j (ALiBi). */
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

/** Attention of q [B, H, Nq, d] over k [B, Hkv, Nk, d] and v [B, Hkv, Nk, e] → [B, H, Nq, e]. */
export function eagerAttention(q: Tensor, k: Tensor, v: Tensor, options: EagerAttentionOptions): Tensor {
  const [batch, heads, nq, d] = q.shape;
  const [, kvHeads, nk] = k.shape;
  using grouped = q.reshape([batch, kvHeads, (heads / kvHeads) * nq, d]);
  using dots = matmul(grouped, k, { transB: true });
  let scores = affine(dots, options.scale ?? 1 / Math.sqrt(d), options.scoreBias ?? 0);
  // the last query sees every key when queryOffset ≥ Nk − 1 (one-token decode): no mask to add
  const masks = options.causal && options.queryOffset < nk - 1;
  if (masks || options.scoreOffset !== undefined) {
    using unshifted = scores;
    using terms = scoreTerms(q, kvHeads, nk, options);
    scores = add(unshifted, terms);
  }
  using logits = scores;
  using weights = options.weights(logits);
  using mixed = matmul(weights, v);
  return mixed.reshape([batch, heads, nq, v.shape[3]]);
}
