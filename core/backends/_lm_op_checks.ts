// Argument checks of the LM-runtime ops every backend implements (writeSlice, rope, sampleTokens):
// one rule and one message per op, whichever backend runs it. Dtype checks stay with the backends.
import { ConfigError, ShapeError } from "../errors.ts";
import { fmtShape, type Tensor } from "../tensor.ts";

/** src fits dst at `start` along the resolved dim `d` (`dim` as the caller gave it, for the message). */
export function checkWriteSlice(dst: Tensor, src: Tensor, d: number, dim: number, start: number): void {
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
}

/** x is [..., N, d] with d even, offset an integer ≥ 0, theta > 1. */
export function checkRope(x: Tensor, offset: number, theta: number): void {
  if (x.ndim < 2 || x.shape[x.ndim - 1] % 2 !== 0) {
    throw new ShapeError("rope", `x must be [..., N, d] with d even, got ${fmtShape(x.shape)}`);
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new ConfigError("rope", "offset", `must be an integer ≥ 0, got ${offset}`);
  }
  if (!(theta > 1)) throw new ConfigError("rope", "theta", `must exceed 1, got ${theta}`);
}

/** logits are [B, V] with V > 0 and there is one uniform per row. */
export function checkSampleInputs(logits: Tensor, uniforms: Float64Array): void {
  if (logits.ndim !== 2 || logits.shape[1] === 0 || uniforms.length !== logits.shape[0]) {
    throw new ShapeError(
      "sampleTokens",
      `logits must be [B, V] with V > 0 and one uniform per row; got ${fmtShape(logits.shape)} and ${uniforms.length}`,
    );
  }
}
