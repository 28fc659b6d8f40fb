// PyTorch's Linear with the bias and GELU-tanh epilogue applied to the f32 product before the one
// rounding to the output dtype, as the CUDA backend's fused cuBLASLt epilogue does.
import type { LinearOptions } from "../../backend.ts";
import { ShapeError } from "../../errors.ts";
import { fmtShape, numel, type Tensor } from "../../tensor.ts";
import { floatDType, output, readFloat, sameDType } from "./_io.ts";
import { runGemm } from "./_worker_pool.ts";

const SQRT_TWO_OVER_PI = Math.sqrt(2 / Math.PI);

/** `x @ weightᵀ (+ bias) (then GELU-tanh)` with x [..., K], weight [N, K], bias [N]. */
export function linear(x: Tensor, weight: Tensor, options: LinearOptions = {}): Tensor {
  const bias = options.bias;
  const dtype = sameDType("linear", x, weight, bias);
  floatDType("linear", x);
  const k = x.shape[x.ndim - 1];
  const n = weight.shape[0];
  if (
    x.ndim < 1 || weight.ndim !== 2 || weight.shape[1] !== k || (bias !== undefined && bias.ndim !== 1) ||
    (bias !== undefined && bias.shape[0] !== n)
  ) {
    throw new ShapeError(
      "linear",
      `expects x [..., K], weight [N, K] and bias [N], got ${fmtShape(x.shape)}, ${fmtShape(weight.shape)}${
        bias === undefined ? "" : ` and ${fmtShape(bias.shape)}`
      }`,
    );
  }
  const m = numel(x.shape.slice(0, -1));
  const out = output([...x.shape.slice(0, -1), n], dtype);
  const values = out.values;
  runGemm({
    a: readFloat("linear", x),
    b: readFloat("linear", weight),
    c: values,
    aOffsets: new Int32Array(1),
    bOffsets: new Int32Array(1),
    m,
    n,
    k,
    transA: false,
    transB: true,
  });
  if (bias !== undefined) {
    const b = readFloat("linear", bias);
    for (let i = 0; i < values.length; i++) values[i] += b[i % n];
  }
  if (options.gelu) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      values[i] = 0.5 * v * (1 + Math.tanh(SQRT_TWO_OVER_PI * (v + 0.044715 * v * v * v)));
    }
  }
  return out.finish();
}
