// The in-place row write of a KV cache: src replaces a run of entries along one dim of dst.
import { DTypeError, ShapeError } from "../../errors.ts";
import { fmtShape, type Tensor } from "../../tensor.ts";
import { resolveDim, splitAt } from "./_io.ts";

/** Writes `src` into entries [start, start + src.shape[dim]) of `dim` of `dst`. */
export function writeSlice(dst: Tensor, src: Tensor, dim: number, start: number): void {
  if (dst.dtype !== src.dtype) throw new DTypeError("writeSlice", `dtypes differ: ${dst.dtype} and ${src.dtype}`);
  const d = resolveDim("writeSlice", dim, dst.shape);
  const length = src.shape[d];
  if (
    src.ndim !== dst.ndim || src.shape.some((s, i) => i !== d && s !== dst.shape[i]) ||
    !Number.isInteger(start) || start < 0 || start + length > dst.shape[d]
  ) {
    throw new ShapeError(
      "writeSlice",
      `src ${fmtShape(src.shape)} does not fit dst ${fmtShape(dst.shape)} at ${start} along dim ${dim}`,
    );
  }
  const { outer, size, inner } = splitAt(dst.shape, d);
  const from = src.hostData;
  const to = dst.hostData;
  for (let o = 0; o < outer; o++) {
    to.set(from.subarray(o * length * inner, (o + 1) * length * inner) as never, (o * size + start) * inner);
  }
}
