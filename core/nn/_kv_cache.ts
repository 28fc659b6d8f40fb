// The decode state of a dot-product mixer: keys and values of every token seen so far, kept in
// buffers with spare capacity so that a decoded token is written in place instead of re-copying
// the whole cache.
import { concat, writeSlice } from "../ops.ts";
import type { MixerState } from "../plugin.ts";
import type { Tensor } from "../tensor.ts";

/**
 * Keys and values [B, Hkv, capacity, d] (k after any q/k transform); the first `length` positions
 * along axis 2 hold the tokens consumed so far, the rest is spare.
 */
export class KvCache implements MixerState {
  k: Tensor | undefined;
  v: Tensor | undefined;
  #length = 0;
  /** `owner` is the mixer whose createState made this cache; step refuses any other's. */
  constructor(readonly owner: object, readonly batch: number) {}

  /** Tokens consumed so far. */
  get length(): number {
    return this.#length;
  }

  /** Positions the buffers hold before they must grow. */
  get capacity(): number {
    return this.k === undefined ? 0 : this.k.shape[2];
  }

  /** Appends fresh keys and values along the token axis, taking ownership of them. */
  append(k: Tensor, v: Tensor): void {
    if (this.k === undefined || this.v === undefined) {
      this.k = k;
      this.v = v;
    } else {
      using _k = k, _v = v;
      const needed = this.#length + k.shape[2];
      this.k = grown(this.k, needed);
      this.v = grown(this.v, needed);
      writeSlice(this.k, k, 2, this.#length);
      writeSlice(this.v, v, 2, this.#length);
    }
    this.#length += k.shape[2];
  }

  [Symbol.dispose](): void {
    this.k?.dispose();
    this.v?.dispose();
    this.k = this.v = undefined;
    this.#length = 0;
  }
}

/**
 * `buffer` doubled along axis 2 until it holds `needed` positions (itself when it already does),
 * consuming it. Doubling keeps the copying O(1) per token over a generation; the new spare half
 * starts as a copy of the old positions, which attention never reads (it reads `length` keys).
 */
function grown(buffer: Tensor, needed: number): Tensor {
  let current = buffer;
  while (current.shape[2] < needed) {
    using old = current;
    current = concat([old, old], 2);
  }
  return current;
}
