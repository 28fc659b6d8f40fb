// The sampling rule written the obvious way: sort the whole vocabulary, keep the top k, weigh by
// softmax(logits / T), cut to the top-p nucleus, walk it with the draw. The ops must match it.
import type { SampleOptions } from "../../core/backend.ts";

/** The token of one row of logits for draw `u` ∈ [0, 1). */
export function referenceToken(logits: ArrayLike<number>, options: SampleOptions, u: number): number {
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const temperature = Math.fround(options.temperature ?? 0);
  if (!(temperature > 0)) return order[0];
  const k = options.topK !== undefined && options.topK > 0 ? Math.min(options.topK, order.length) : order.length;
  const top = order.slice(0, k);
  const max = logits[top[0]];
  const weights = top.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = weights.reduce((s, w) => s + w, 0);
  const topP = options.topP ?? 1;
  let kept = top.length;
  if (topP < 1) {
    let mass = 0;
    for (kept = 0; kept < top.length && (kept === 0 || mass < topP * total);) mass += weights[kept++];
  }
  let target = u * weights.slice(0, kept).reduce((s, w) => s + w, 0);
  for (let i = 0; i < kept; i++) {
    target -= weights[i];
    if (target <= 0) return top[i];
  }
  return top[kept - 1];
}
