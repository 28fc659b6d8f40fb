// Next-token choice per row of logits without sorting the vocabulary. Tokens are ranked by
// descending logit, lower index first on ties; each "first token in rank order at which a running
// sum reaches a target" (the k-th token, the end of the top-p nucleus, the drawn token) is found
// by bisection over the logits' order-preserving 32-bit keys, then one index-order walk over the
// tokens sharing the final key. kernels/sampling.cu follows the same steps.
import type { SampleOptions } from "../../backend.ts";
import { DTypeError } from "../../errors.ts";
import { CpuStorage, Tensor } from "../../tensor.ts";
import { checkSampleInputs } from "../_lm_op_checks.ts";

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);

/** Unsigned key ordered like the f32 value (−0 and +0 share one). */
function orderKey(v: number): number {
  asFloat[0] = v === 0 ? 0 : v;
  const b = bits[0];
  return (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
}

/** The tokens still in the running: rank order up to and including (key, index). */
interface Cut {
  key: number;
  index: number;
}

/** A token and the running sum through it in rank order. */
interface Position extends Cut {
  cum: number;
}

function holds(cut: Cut, key: number, i: number): boolean {
  return key > cut.key || (key === cut.key && i <= cut.index);
}

/** Sum of `q` over the tokens in `cut` whose key is at least `from`. */
function sumFrom(keys: Uint32Array, q: (i: number) => number, cut: Cut, from: number): number {
  let s = 0;
  for (let i = 0; i < keys.length; i++) if (keys[i] >= from && holds(cut, keys[i], i)) s += q(i);
  return s;
}

/**
 * The first token of `cut` in rank order whose running sum of `q` reaches `target` (`top` when
 * target ≤ 0; the last token of the cut when rounding leaves the whole cut just short).
 */
function selectFirst(keys: Uint32Array, q: (i: number) => number, cut: Cut, target: number, top: Position): Position {
  if (target <= 0) return top;
  target = Math.min(target, sumFrom(keys, q, cut, 0));
  let key = 0;
  for (let bit = 31; bit >= 0; bit--) {
    const probe = (key | (1 << bit)) >>> 0;
    if (sumFrom(keys, q, cut, probe) >= target) key = probe;
  }
  let run = key === 0xffffffff ? 0 : sumFrom(keys, q, cut, key + 1);
  let last: Position | undefined;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== key || !holds(cut, key, i)) continue;
    run += q(i);
    last = { key, index: i, cum: run };
    if (run >= target) return last;
  }
  return last!;
}

/** The first largest logit: the top of the rank order. */
function argmaxPosition(keys: Uint32Array): Position {
  let index = 0;
  for (let i = 1; i < keys.length; i++) if (keys[i] > keys[index]) index = i;
  return { key: keys[index], index, cum: 1 };
}

/** One row's token: greedy when temperature ≤ 0, else the draw `u` ∈ [0, 1) as documented on the op. */
export function chooseToken(logits: ArrayLike<number>, options: SampleOptions, u: number): number {
  const keys = Uint32Array.from({ length: logits.length }, (_, i) => orderKey(logits[i]));
  const top = argmaxPosition(keys);
  const temperature = Math.fround(options.temperature ?? 0);
  if (!(temperature > 0)) return top.index;
  const max = logits[top.index];
  const weights = Float64Array.from({ length: logits.length }, (_, i) => Math.exp((logits[i] - max) / temperature));
  const weight = (i: number): number => weights[i];
  let cut: Cut = { key: 0, index: logits.length - 1 };
  const topK = options.topK ?? 0;
  if (topK > 0 && topK < logits.length) cut = selectFirst(keys, () => 1, cut, topK, top);
  const topP = options.topP ?? 1;
  let mass: number;
  if (topP < 1) {
    const end = selectFirst(keys, weight, cut, topP * sumFrom(keys, weight, cut, 0), top);
    cut = end;
    mass = end.cum;
  } else {
    mass = sumFrom(keys, weight, cut, 0);
  }
  return selectFirst(keys, weight, cut, u * mass, top).index;
}

/** Token ids i32 [B] of logits [B, V], row b drawing with `uniforms[b]`. */
export function sampleTokens(logits: Tensor, options: SampleOptions, uniforms: Float64Array): Tensor {
  if (logits.dtype === "i32") throw new DTypeError("sampleTokens", "logits must be floating");
  checkSampleInputs(logits, uniforms);
  const [batch, vocab] = logits.shape;
  const values = logits.toFloat32Array();
  const storage = new CpuStorage("i32", batch);
  for (let b = 0; b < batch; b++) {
    storage.data[b] = chooseToken(values.subarray(b * vocab, (b + 1) * vocab), options, uniforms[b]);
  }
  return new Tensor(storage, [batch]);
}
