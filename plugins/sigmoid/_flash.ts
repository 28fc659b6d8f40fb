// The FlashSigmoid CUDA forward (kernels/forward_api.cu) as the mixer's attention functions. The
// strided entry point reads q, k, v and writes o through (batch, token, head) element strides, so
// the head-major tensors of the KV-cache path and the packed qkv projection of a full forward are
// used in place: no head split, merge or permute copies. bf16/f16 with head dims 32, 64, 96, 128
// and 256; anything else falls back (or, packed, declines).
import {
  type AttentionCall,
  type AttentionFunction,
  type AttentionViews,
  type HeadGeometry,
  headMajorViews,
  launchInto,
  type PackedAttentionFunction,
  packedViews,
} from "../../core/nn/mod.ts";
import type { PluginKernels } from "../../core/plugin.ts";
import { fmtShape, type Tensor } from "../../core/tensor.ts";

const HEAD_DIMS = [32, 64, 96, 128, 256];

/** Whether the FlashSigmoid forward kernels take tensors of this dtype and head dim. */
export function flashSupports(x: Tensor, headDim: number): boolean {
  return (x.dtype === "bf16" || x.dtype === "f16") && HEAD_DIMS.includes(headDim);
}

/** What every launch shares: the kernels, the score bias and the ALiBi slopes on the device (or none). */
interface Launcher {
  kernels: PluginKernels;
  bias: number;
  slopes: Tensor | undefined;
}

/** The strided forward over the views, `call.keyLength` keys; throws NativeError on failure. */
function launch(
  { kernels, bias, slopes }: Launcher,
  dtype: "bf16" | "f16",
  views: AttentionViews,
  sizes: { batch: number; heads: number; kvHeads: number; nq: number; headDim: number },
  call: AttentionCall,
  describe: () => string,
): void {
  const status = kernels.symbols.attnzoo_sigmoid_forward_strided(
    kernels.dtypeCode(dtype),
    views.q.address,
    views.k.address,
    views.v.address,
    views.o.address,
    sizes.batch,
    sizes.heads,
    sizes.kvHeads,
    sizes.nq,
    call.keyLength,
    sizes.headDim,
    1 / Math.sqrt(sizes.headDim),
    bias,
    call.causal ? 1 : 0,
    slopes === undefined ? 0n : kernels.pointer(slopes),
    0,
    kernels.stream,
    ...views.q.strides,
    ...views.k.strides,
    ...views.v.strides,
    ...views.o.strides,
  ) as number;
  kernels.check(status, "sigmoid_forward", describe);
}

/**
 * σ(q kᵀ·d^-½ + b − slope·|distance|) v on the GPU (`slopes`: `slopesOnDevice` of core/alibi.ts, owned by
 * the caller); other inputs go to `fallback`. q is
 * [B, H, Nq, d], k and v [B, Hkv, L, d] of which the kernel reads the first keyLength keys (a KV
 * cache's spare capacity stays unread). For a few queries (decoding) the library runs its decode
 * kernel, which splits the keys over the GPU.
 */
export function flashSigmoidAttention(
  kernels: PluginKernels,
  bias: number,
  slopes: Tensor | undefined,
  fallback: AttentionFunction,
): AttentionFunction {
  const shared = { kernels, bias, slopes };
  return (q, k, v, call) => {
    const [batch, heads, nq, d] = q.shape;
    // the kernels align causal masks bottom-right
    if (!flashSupports(q, d) || call.queryOffset !== call.keyLength - nq) return fallback(q, k, v, call);
    const out = kernels.empty([batch, heads, nq, d], q.dtype);
    const views = headMajorViews(kernels.pointer, q, k, v, out);
    const sizes = { batch, heads, kvHeads: k.shape[1], nq, headDim: d };
    const describe = () => `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, keyLength ${call.keyLength}`;
    return launchInto(out, () => launch(shared, q.dtype as "bf16" | "f16", views, sizes, call, describe));
  };
}

/**
 * The same attention over the packed projection qkv [B, N, (H + 2·Hkv)·d] (q, k, v read as
 * strided slices), output [B, N, H·d] ready for `proj`; declines (undefined) what the kernels do
 * not take.
 */
export function flashSigmoidPackedAttention(
  kernels: PluginKernels,
  bias: number,
  slopes: Tensor | undefined,
): PackedAttentionFunction {
  const shared = { kernels, bias, slopes };
  return (qkv: Tensor, geometry: HeadGeometry, call: AttentionCall) => {
    const { heads, kvHeads, headDim: d } = geometry;
    const [batch, n] = qkv.shape;
    if (!flashSupports(qkv, d) || call.queryOffset !== call.keyLength - n) return undefined;
    const out = kernels.empty([batch, n, heads * d], qkv.dtype);
    const views = packedViews(kernels.pointer, qkv, geometry, out);
    const sizes = { batch, heads, kvHeads, nq: n, headDim: d };
    const describe = () => `packed qkv ${fmtShape(qkv.shape)}, ${heads}/${kvHeads} heads of ${d}`;
    return launchInto(out, () => launch(shared, qkv.dtype as "bf16" | "f16", views, sizes, call, describe));
  };
}
