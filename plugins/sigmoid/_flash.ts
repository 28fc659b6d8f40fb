// The FlashSigmoid CUDA forward (kernels/forward_api.cu) as the mixer's attention function:
// fused, tiled, no N×N matrix, for bf16/f16 with head dims 64 and 128; anything else falls back.
import type { AttentionCall, AttentionFunction } from "../../core/nn/mod.ts";
import { permute, toDevice } from "../../core/ops.ts";
import type { PluginKernels } from "../../core/plugin.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";

const DTYPE_CODE = { f16: 1, bf16: 2 } as const;
const HEAD_DIMS = [64, 128];

/** Whether the kernels take q/k/v of this dtype, head dim and alignment. */
function supported(q: Tensor, call: AttentionCall, nk: number): boolean {
  return (q.dtype === "bf16" || q.dtype === "f16") && HEAD_DIMS.includes(q.shape[3]) && call.keyLength === nk &&
    call.queryOffset === nk - q.shape[2]; // the kernels align causal masks bottom-right
}

/**
 * σ(q kᵀ·d^-½ + b − slope·|distance|) v on the GPU through `attnzoo_sigmoid_forward`; other
 * inputs go to `fallback`. Inputs are [B, H, N, d]; the kernel's layout is [B, N, H, d].
 */
export function flashSigmoidAttention(
  kernels: PluginKernels,
  bias: number,
  slopes: ArrayLike<number> | undefined,
  fallback: AttentionFunction,
): AttentionFunction {
  return (q, k, v, call) => {
    const [batch, heads, nq, d] = q.shape;
    const [, kvHeads, nk] = k.shape;
    if (!supported(q, call, nk)) return fallback(q, k, v, call);
    using qt = permute(q, [0, 2, 1, 3]);
    using kt = permute(k, [0, 2, 1, 3]);
    using vt = permute(v, [0, 2, 1, 3]);
    using hostSlopes = slopes === undefined ? undefined : tensor(Float32Array.from(slopes), { dtype: "f32" });
    using deviceSlopes = hostSlopes === undefined ? undefined : toDevice(hostSlopes, q.device);
    using out = kernels.empty([batch, nq, heads, d], q.dtype);
    // every temporary is freed after the launch: the backend's single stream orders any reuse
    // of their memory after this kernel
    const status = kernels.symbols.attnzoo_sigmoid_forward(
      DTYPE_CODE[q.dtype as "bf16" | "f16"],
      kernels.pointer(qt),
      kernels.pointer(kt),
      kernels.pointer(vt),
      kernels.pointer(out),
      batch,
      heads,
      kvHeads,
      nq,
      nk,
      d,
      1 / Math.sqrt(d),
      bias,
      call.causal ? 1 : 0,
      deviceSlopes === undefined ? 0n : kernels.pointer(deviceSlopes),
      0,
      kernels.stream,
    ) as number;
    kernels.check(status, "sigmoid_forward", () => `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}`);
    return permute(out, [0, 2, 1, 3]);
  };
}
