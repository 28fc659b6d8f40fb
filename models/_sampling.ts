// Next-token choice from one row of logits: greedy, or temperature + top-k + top-p sampling.
import type { Rng } from "../core/random.ts";

/** How the next token is chosen. Greedy when temperature is 0 (the default). */
export interface SamplingOptions {
  /** Softmax temperature; 0 means greedy (argmax). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = all). */
  topP?: number;
}

/** Index of the largest logit (the first one on ties). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Picks the next token from `logits` with `options`, drawing from `rng` when sampling. */
export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): number {
  const temperature = options.temperature ?? 0;
  if (temperature <= 0) return argmax(logits);
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  const k = options.topK !== undefined && options.topK > 0 ? Math.min(options.topK, order.length) : order.length;
  const top = order.slice(0, k);
  const max = logits[top[0]];
  const weights = top.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = weights.reduce((s, w) => s + w, 0);
  const topP = options.topP ?? 1;
  let kept = 0;
  let mass = 0;
  while (kept < top.length && (kept === 0 || mass < topP)) mass += weights[kept++] / total;
  let u = rng.uniform() * mass;
  for (let i = 0; i < kept; i++) {
    u -= weights[i] / total;
    if (u <= 0) return top[i];
  }
  return top[kept - 1];
}
