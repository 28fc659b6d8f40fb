// The decode state of a dot-product mixer: keys and values of every token seen so far.
import { concat } from "../ops.ts";
import type { MixerState } from "../plugin.ts";
import type { Tensor } from "../tensor.ts";

/** Keys and values [B, Hkv, L, d] of the tokens consumed so far (k after any q/k transform). */
export class KvCache implements MixerState {
  k: Tensor | undefined;
  v: Tensor | undefined;
  /** `owner` is the mixer whose createState made this cache; step refuses any other's. */
  constructor(readonly owner: object, readonly batch: number) {}

  get length(): number {
    return this.k === undefined ? 0 : this.k.shape[2];
  }

  /** Appends fresh keys and values along the token axis, taking ownership of them. */
  append(k: Tensor, v: Tensor): void {
    const extend = (cached: Tensor | undefined, fresh: Tensor): Tensor => {
      if (cached === undefined) return fresh;
      using _old = cached, _new = fresh;
      return concat([cached, fresh], 2);
    };
    this.k = extend(this.k, k);
    this.v = extend(this.v, v);
  }

  [Symbol.dispose](): void {
    this.k?.dispose();
    this.v?.dispose();
    this.k = this.v = undefined;
  }
}
