// Small op compositions the agent mixers share: Linear in PyTorch's layout and head splitting.
import { add, matmul, permute } from "../../core/ops.ts";
import type { Tensor } from "../../core/tensor.ts";

/** x Wᵀ + b with W [out, in] (PyTorch's Linear); no bias when `bias` is undefined. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | undefined): Tensor {
  const y = matmul(x, weight, { transB: true });
  if (bias === undefined) return y;
  using _y = y;
  return add(y, bias);
}

/** [B, N, H·d] → [B, H, N, d]. */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, n, c] = x.shape;
  using view = x.reshape([b, n, heads, c / heads]);
  return permute(view, [0, 2, 1, 3]);
}

/** [B, H, N, d] → [B, N, H·d]. */
export function mergeHeads(x: Tensor): Tensor {
  const [b, h, n, d] = x.shape;
  using t = permute(x, [0, 2, 1, 3]);
  return t.reshape([b, n, h * d]);
}

/** Reads a parameter that the layer's own shape table guarantees. */
export function param(parameters: ReadonlyMap<string, Tensor>, name: string): Tensor {
  const t = parameters.get(name);
  if (t === undefined) throw new Error(`agent mixer: parameter ${name} was removed`);
  return t;
}
