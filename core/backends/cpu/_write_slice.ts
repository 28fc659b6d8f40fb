// The in-place row write of a KV cache: src replaces a run of entries along one dim of dst.
import { DTypeError } from "../../errors.ts";
import type { Tensor } from "../../tensor.ts";
import { checkWriteSlice } from "../_lm_op_checks.ts";
import { resolveDim, splitAt } from "./_io.ts";

/** Writes `src` into entries [start, start + src.shape[dim]) of `dim` of `dst`. */
export function writeSlice(dst: Tensor, src: Tensor, dim: number, start: number): void {
  if (dst.dtype !== src.dtype) throw new DTypeError("writeSlice", `dtypes differ: ${dst.dtype} and ${src.dtype}`);
  const d = resolveDim("writeSlice", dim, dst.shape);
  checkWriteSlice(dst, src, d, dim, start);
  const length = src.shape[d];
  const { outer, size, inner } = splitAt(dst.shape, d);
  const from = src.hostData;
  const to = dst.hostData;
  for (let o = 0; o < outer; o++) {
    to.set(from.subarray(o * length * inner, (o + 1) * length * inner) as never, (o * size + start) * inner);
  }
}
