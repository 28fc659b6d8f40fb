// The FlashSoftmax CUDA forward (kernels/api.cu) as the mixer's attention functions. The kernel
// reads q, k, v and writes o through explicit (batch, token, head) element strides, so both the
// head-major tensors of the KV-cache path and the packed projection are used in place: no head
// split, merge or permute copies. bf16/f16 with head dims 64 and 128; anything else falls back.
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

const HEAD_DIMS = [64, 128];

/** Whether the kernel takes tensors of this dtype and head dim. */
function supported(x: Tensor, headDim: number): boolean {
  return (x.dtype === "bf16" || x.dtype === "f16") && HEAD_DIMS.includes(headDim);
}

interface Sizes {
  batch: number;
  heads: number;
  kvHeads: number;
  nq: number;
  headDim: number;
}

/** The kernel over q, k, v, o views, `call.keyLength` keys, ALiBi `slopes` per head on the device (or none). */
function launch(
  kernels: PluginKernels,
  dtype: "bf16" | "f16",
  views: AttentionViews,
  sizes: Sizes,
  call: AttentionCall,
  slopes: Tensor | undefined,
  describe: () => string,
): void {
  const { q, k, v, o } = views;
  const status = kernels.symbols.attnzoo_softmax_forward(
    kernels.dtypeCode(dtype),
    q.address,
    k.address,
    v.address,
    o.address,
    sizes.batch,
    sizes.heads,
    sizes.kvHeads,
    sizes.nq,
    call.keyLength,
    sizes.headDim,
    ...q.strides,
    ...k.strides,
    ...v.strides,
    ...o.strides,
    1 / Math.sqrt(sizes.headDim),
    call.causal ? 1 : 0,
    call.queryOffset,
    slopes === undefined ? 0n : kernels.pointer(slopes),
    0,
    kernels.stream,
  ) as number;
  kernels.check(status, "softmax_forward", describe);
}

/**
 * softmax(q kᵀ·d^-½ − slope·|distance|) v for head-major q [B, H, Nq, d], k and v [B, Hkv, L, d]
 * (L ≥ keyLength: a KV cache), output [B, H, Nq, d]; other dtypes and head dims go to `fallback`.
 * `slopes`: `slopesOnDevice` of core/alibi.ts, owned by the caller.
 */
export function flashSoftmaxAttention(
  kernels: PluginKernels,
  slopes: Tensor | undefined,
  fallback: AttentionFunction,
): AttentionFunction {
  return (q, k, v, call) => {
    const [batch, heads, nq, d] = q.shape;
    if (!supported(q, d)) return fallback(q, k, v, call);
    const out = kernels.empty([batch, heads, nq, d], q.dtype);
    const views = headMajorViews(kernels.pointer, q, k, v, out);
    return launchInto(out, () =>
      launch(
        kernels,
        q.dtype as "bf16" | "f16",
        views,
        { batch, heads, kvHeads: k.shape[1], nq, headDim: d },
        call,
        slopes,
        () => `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, keyLength ${call.keyLength}`,
      ));
  };
}

/**
 * The same attention over the packed projection qkv [B, N, (H + 2·Hkv)·d] (q, k, v read as strided
 * slices), output [B, N, H·d] ready for `proj`; declines (undefined) what the kernel does not take.
 */
export function flashSoftmaxPackedAttention(
  kernels: PluginKernels,
  slopes: Tensor | undefined,
): PackedAttentionFunction {
  return (qkv: Tensor, geometry: HeadGeometry, call: AttentionCall) => {
    const { heads, kvHeads, headDim: d } = geometry;
    if (!supported(qkv, d)) return undefined;
    const [batch, n] = qkv.shape;
    const out = kernels.empty([batch, n, heads * d], qkv.dtype);
    const views = packedViews(kernels.pointer, qkv, geometry, out);
    return launchInto(out, () =>
      launch(
        kernels,
        qkv.dtype as "bf16" | "f16",
        views,
        { batch, heads, kvHeads, nq: n, headDim: d },
        call,
        slopes,
        () => `packed qkv ${fmtShape(qkv.shape)}, ${heads}/${kvHeads} heads of ${d}`,
      ));
  };
}
