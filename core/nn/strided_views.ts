/**
 * Where a fused attention kernel finds q, k, v and o when it takes (batch, token, head) element
 * strides: the head-major tensors of the split-heads path ([B, H, N, d], a KV cache's
 * [B, Hkv, capacity, d]) and the packed qkv projection [B, N, (H + 2·Hkv)·d] with its [B, N, H·d]
 * output. Families with such kernels build their launch arguments from these instead of copying
 * tensors into one layout.
 *
 * @module
 */
import { dtypeSize } from "../dtype.ts";
import type { Tensor } from "../tensor.ts";
import type { HeadGeometry } from "./heads.ts";

/** One kernel operand: its device address and element strides (batch, token, head). */
export interface StridedView {
  address: bigint;
  strides: [number, number, number];
}

/** The four operands of an attention launch. */
export interface AttentionViews {
  q: StridedView;
  k: StridedView;
  v: StridedView;
  o: StridedView;
}

/** Device address of a tensor (`PluginKernels.pointer`). */
export type DevicePointer = (t: Tensor) => bigint;

/** A contiguous [B, H, N, d] tensor (N may be a cache's capacity) as a strided view. */
function headMajor(pointer: DevicePointer, t: Tensor): StridedView {
  const [, heads, tokens, d] = t.shape;
  return { address: pointer(t), strides: [heads * tokens * d, d, tokens * d] };
}

/** q, o [B, H, Nq, d] and k, v [B, Hkv, L, d], every one contiguous. */
export function headMajorViews(pointer: DevicePointer, q: Tensor, k: Tensor, v: Tensor, o: Tensor): AttentionViews {
  return { q: headMajor(pointer, q), k: headMajor(pointer, k), v: headMajor(pointer, v), o: headMajor(pointer, o) };
}

/**
 * q, k, v as slices of the packed projection qkv [B, N, (H + 2·Hkv)·d] (heads in that order along
 * the last dim) and o [B, N, H·d].
 */
export function packedViews(pointer: DevicePointer, qkv: Tensor, geometry: HeadGeometry, o: Tensor): AttentionViews {
  const { heads, kvHeads, headDim: d } = geometry;
  const [, n, width] = qkv.shape;
  const base = pointer(qkv);
  const slice = (firstHead: number): StridedView => ({
    address: base + BigInt(firstHead * d * dtypeSize(qkv.dtype)),
    strides: [n * width, width, d],
  });
  return {
    q: slice(0),
    k: slice(heads),
    v: slice(heads + kvHeads),
    o: { address: pointer(o), strides: [n * heads * d, heads * d, d] },
  };
}

/** Runs `launch` (which fills `out`) and returns `out`, freeing it when the launch throws. */
export function launchInto(out: Tensor, launch: () => void): Tensor {
  try {
    launch();
  } catch (error) {
    out.dispose();
    throw error;
  }
  return out;
}
