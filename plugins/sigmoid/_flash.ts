// The FlashSigmoid CUDA forward (kernels/forward_api.cu) as the mixer's attention function:
// fused, tiled, no N×N matrix, for bf16/f16 with head dims 32, 64, 96, 128 and 256; anything else
// falls back.
import type { AttentionCall, AttentionFunction } from "../../core/nn/mod.ts";
import { toDevice } from "../../core/ops.ts";
import type { PluginKernels } from "../../core/plugin.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";

const DTYPE_CODE = { f16: 1, bf16: 2 } as const;
const HEAD_DIMS = [32, 64, 96, 128, 256];

/** Whether the kernels take q/k/v of this dtype, head dim and causal alignment. */
function supported(q: Tensor, call: AttentionCall): boolean {
  return (q.dtype === "bf16" || q.dtype === "f16") && HEAD_DIMS.includes(q.shape[3]) &&
    call.queryOffset === call.keyLength - q.shape[2]; // the kernels align causal masks bottom-right
}

/** (batch, token, head) element strides of a contiguous [B, H, N, d] tensor. */
function strides(t: Tensor): number[] {
  const [, heads, tokens, d] = t.shape;
  return [heads * tokens * d, d, tokens * d];
}

/**
 * σ(q kᵀ·d^-½ + b − slope·|distance|) v on the GPU through `attnzoo_sigmoid_forward_strided`; other
 * inputs go to `fallback`. q is [B, H, Nq, d], k and v [B, Hkv, L, d] of which the kernel reads the
 * first keyLength keys (a KV cache's spare capacity stays unread): no layout copies. For a few
 * queries (decoding) the library runs its decode kernel, which splits the keys over the GPU.
 */
export function flashSigmoidAttention(
  kernels: PluginKernels,
  bias: number,
  slopes: ArrayLike<number> | undefined,
  fallback: AttentionFunction,
): AttentionFunction {
  return (q, k, v, call) => {
    if (!supported(q, call)) return fallback(q, k, v, call);
    const [batch, heads, nq, d] = q.shape;
    const kvHeads = k.shape[1];
    using hostSlopes = slopes === undefined ? undefined : tensor(Float32Array.from(slopes), { dtype: "f32" });
    using deviceSlopes = hostSlopes === undefined ? undefined : toDevice(hostSlopes, q.device);
    const out = kernels.empty([batch, heads, nq, d], q.dtype);
    // the slopes are freed after the launch: the backend's single stream orders any reuse of their
    // memory after this kernel
    const status = kernels.symbols.attnzoo_sigmoid_forward_strided(
      DTYPE_CODE[q.dtype as "bf16" | "f16"],
      kernels.pointer(q),
      kernels.pointer(k),
      kernels.pointer(v),
      kernels.pointer(out),
      batch,
      heads,
      kvHeads,
      nq,
      call.keyLength,
      d,
      1 / Math.sqrt(d),
      bias,
      call.causal ? 1 : 0,
      deviceSlopes === undefined ? 0n : kernels.pointer(deviceSlopes),
      0,
      kernels.stream,
      ...strides(q),
      ...strides(k),
      ...strides(v),
      ...strides(out),
    ) as number;
    try {
      kernels.check(status, "sigmoid_forward", () => `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}`);
    } catch (error) {
      out.dispose();
      throw error;
    }
    return out;
  };
}
