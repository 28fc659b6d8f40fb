// The lightning plugin's CUDA kernels (kernels/forward.cu, kernels/step.cu) as the mixer calls
// them: each operand is a tensor, an element offset into it and element strides (batch, head,
// token), so q, k, v are read straight out of the projection's output and o is written in the
// merged [B, N, heads·e] layout, with no permute copies. λ_h = exp(−s_h) with s from an f32 device
// array the mixer owns. The forward gets the workspace the library asks for, so that at batch 1 it
// can split the sequence over more CTAs.
import { dtypeSize } from "../../core/dtype.ts";
import type { PluginKernels, PluginManifest } from "../../core/plugin.ts";
import type { Tensor } from "../../core/tensor.ts";

/** q/k head dims the kernels are built for; v head dims must be multiples of 32. */
const QK_DIMS = [64, 128, 256];

/** One operand: element `offset` into `tensor`, then element strides [batch, head, token]. */
export interface Operand {
  tensor: Tensor;
  offset: number;
  strides: readonly [number, number, number];
}

/** Sizes of one kernel call. */
export interface FusedSizes {
  batch: number;
  heads: number;
  length: number;
  /** q/k head dim. */
  d: number;
  /** v head dim. */
  e: number;
}

/** Whether the kernels take this dtype and these head dims. */
export function fusedSupports(dtype: string, d: number, e: number): boolean {
  return (dtype === "bf16" || dtype === "f16") && QK_DIMS.includes(d) && e >= 32 && e % 32 === 0;
}

const STRIDED = ["u64", "u64", "u64", "u64", "u64"] as const; // q, k, v, o, rates
const SIZES = ["i32", "i32", "i32", "i32", "i32"] as const; // batch, heads, n, d, e
const STRIDES = Array<"i64">(12).fill("i64");

/** The manifest's `kernels` entry: sources and their C ABI (see the comments in the .cu files). */
export const lightningKernelManifest: PluginManifest["kernels"] = {
  sources: ["kernels/status.cu", "kernels/forward.cu", "kernels/step.cu"],
  symbols: {
    // dtype, q, k, v, o, rates, state_in, state_out, sizes, bidirectional, strides, workspace, its bytes, stream
    attnzoo_lightning_forward: {
      parameters: ["i32", ...STRIDED, "u64", "u64", ...SIZES, "i32", ...STRIDES, "u64", "i64", "u64"],
      result: "i32",
    },
    // sizes → bytes of workspace that lets the forward split the sequence over more CTAs (−1: error)
    attnzoo_lightning_workspace: { parameters: [...SIZES], result: "i64" },
    // dtype, q, k, v, o, rates, state, sizes, strides, stream
    attnzoo_lightning_step: { parameters: ["i32", ...STRIDED, "u64", ...SIZES, ...STRIDES, "u64"], result: "i32" },
    attnzoo_lightning_last_error: { parameters: ["pointer", "i32"], result: "i32" },
  },
};

/** The kernels bound to one mixer's decay rates (an f32 device tensor [heads]). */
export class FusedLightning {
  constructor(readonly kernels: PluginKernels, readonly rates: Tensor) {}

  #address(op: Operand): bigint {
    return this.kernels.pointer(op.tensor) + BigInt(op.offset * dtypeSize(op.tensor.dtype));
  }

  #common(q: Operand, k: Operand, v: Operand, o: Operand): (number | bigint)[] {
    return [
      this.kernels.dtypeCode(q.tensor.dtype),
      this.#address(q),
      this.#address(k),
      this.#address(v),
      this.#address(o),
      this.kernels.pointer(this.rates),
    ];
  }

  /**
   * Causal (after `stateIn`, undefined = zeros; the state after the last token into `stateOut`,
   * which may be `stateIn`) or bidirectional (no states) attention into `o`.
   */
  forward(
    q: Operand,
    k: Operand,
    v: Operand,
    o: Operand,
    sizes: FusedSizes,
    options: { stateIn?: Tensor; stateOut?: Tensor; bidirectional?: boolean },
  ): void {
    const { batch, heads, length, d, e } = sizes;
    const bytes = Number(
      this.kernels.symbols.attnzoo_lightning_workspace(batch, heads, length, d, e) as number | bigint,
    );
    this.kernels.check(bytes < 0 ? 1 : 0, "lightning_workspace", () => describe(sizes));
    // freed right after the launch: the backend's single stream orders any reuse after the kernels
    using workspace = bytes > 0 ? this.kernels.empty([Math.ceil(bytes / 4)], "f32") : undefined;
    const status = this.kernels.symbols.attnzoo_lightning_forward(
      ...this.#common(q, k, v, o),
      options.stateIn === undefined ? 0n : this.kernels.pointer(options.stateIn),
      options.stateOut === undefined ? 0n : this.kernels.pointer(options.stateOut),
      batch,
      heads,
      length,
      d,
      e,
      options.bidirectional ? 1 : 0,
      ...q.strides,
      ...k.strides,
      ...v.strides,
      ...o.strides,
      workspace === undefined ? 0n : this.kernels.pointer(workspace),
      bytes,
      this.kernels.stream,
    ) as number;
    this.kernels.check(status, "lightning_forward", () => describe(sizes));
  }

  /** Token-by-token recurrence after `state` (f32 [B, H, d, e], updated in place) into `o`. */
  step(q: Operand, k: Operand, v: Operand, o: Operand, sizes: FusedSizes, state: Tensor): void {
    const { batch, heads, length, d, e } = sizes;
    const status = this.kernels.symbols.attnzoo_lightning_step(
      ...this.#common(q, k, v, o),
      this.kernels.pointer(state),
      batch,
      heads,
      length,
      d,
      e,
      ...q.strides,
      ...k.strides,
      ...v.strides,
      ...o.strides,
      this.kernels.stream,
    ) as number;
    this.kernels.check(status, "lightning_step", () => describe(sizes));
  }
}

function describe({ batch, heads, length, d, e }: FusedSizes): string {
  return `B ${batch}, H ${heads}, N ${length}, d ${d}, e ${e}`;
}
