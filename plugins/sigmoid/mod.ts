/**
 * Sigmoid attention (FlashSigmoid, arXiv 2409.04431): O = σ(Q Kᵀ·d^-½ + b) V with b = −ln(n),
 * causal masking, ALiBi with the full-offset rule, GQA and QK-norm. CPU reference forward and
 * backward, and the token mixer for ViTs and LMs.
 *
 * @module
 */
import { backendFor } from "../../core/backend.ts";
import { dotProductMixerCost } from "../../core/nn/mod.ts";
import { toDevice } from "../../core/ops.ts";
import type { FfiSymbol, FfiType, MixerCost, MixerSpec, PluginManifest } from "../../core/plugin.ts";
import type { Tensor } from "../../core/tensor.ts";
import { parseSigmoidConfig, sigmoidConfigSchema } from "./config.ts";
import { createSigmoidMixer, sigmoidMixerOptions } from "./mixer.ts";
import { configs } from "./_configs.ts";
import {
  checkVarlen,
  kernelTakes,
  type SequenceOffsets,
  type SigmoidVarlenOptions,
  varlenOnDevice,
  varlenOnHost,
} from "./varlen.ts";

export { parseSigmoidConfig, type SigmoidConfig, sigmoidConfigSchema } from "./config.ts";
export { createSigmoidMixer } from "./mixer.ts";
export {
  type QkNormOptions,
  sigmoidAttention,
  sigmoidAttentionBackward,
  type SigmoidAttentionGrads,
  type SigmoidAttentionOptions,
} from "./reference.ts";
export type { Slopes } from "../../core/nn/mod.ts";
export type { SequenceOffsets, SigmoidVarlenOptions } from "./varlen.ts";
export type { QkNormKind } from "./_qk_norm.ts";

/** Parameters and forward FLOPs of one sigmoid mixer over `tokens` tokens. */
export function sigmoidMixerCost(spec: MixerSpec, config: unknown, tokens: number): MixerCost {
  return dotProductMixerCost(spec, sigmoidMixerOptions(parseSigmoidConfig(config), spec.heads), tokens);
}

/** What every FlashSigmoid entry point takes after its tensors: B, H, Hkv, Nq, Nk, d, scale, b,
 * causal, ALiBi slopes (device f32 or 0), the slopes' batch stride, stream. */
const SIZES_AND_OPTIONS: FfiType[] = [
  "i32",
  "i32",
  "i32",
  "i32",
  "i32",
  "i32",
  "f32",
  "f32",
  "i32",
  "u64",
  "i32",
  "u64",
];

/** An entry point: dtype code, `tensors` device pointers, then the sizes and options. */
function kernelEntry(tensors: number): FfiSymbol {
  return { parameters: ["i32", ...Array<FfiType>(tensors).fill("u64"), ...SIZES_AND_OPTIONS], result: "i32" };
}

const FORWARD = kernelEntry(4); // q, k, v, o
/** The forward with explicit (batch, token, head) element strides of q, k, v and o after the options. */
const STRIDED_FORWARD: FfiSymbol = {
  ...FORWARD,
  parameters: [...FORWARD.parameters, ...Array<FfiType>(12).fill("i64")],
};

/** The varlen forward: dtype, q, k, v, o, cu_seqlens_q, cu_seqlens_k, B, H, Hkv, max Nq, max Nk, d,
 * scale, b, causal, ALiBi slopes (device f32 or 0), the slopes' batch stride, stream. */
const VARLEN_FORWARD: FfiSymbol = {
  parameters: ["i32", ...Array<FfiType>(6).fill("u64"), ...SIZES_AND_OPTIONS],
  result: "i32",
};

/** The backward: dtype, q, k, v, dout, dq, dk, dv, the f32 dQ workspace (B·Nq·H·d elements; read
 * only by the atomic mode), the sizes and options with `deterministic` (i32) before the stream. */
const BACKWARD: FfiSymbol = {
  parameters: ["i32", ...Array<FfiType>(8).fill("u64"), ...SIZES_AND_OPTIONS.slice(0, -1), "i32", "u64"],
  result: "i32",
};

/** The varlen backward: dtype, q, k, v, dout, dq, dk, dv, the dQ workspace (total_q·H·d f32),
 * cu_seqlens_q, cu_seqlens_k, B, H, Hkv, total_q, then max Nq onwards as the backward. */
const VARLEN_BACKWARD: FfiSymbol = {
  parameters: ["i32", ...Array<FfiType>(10).fill("u64"), "i32", "i32", "i32", "i32", ...BACKWARD.parameters.slice(12)],
  result: "i32",
};

/** The sigmoid attention plugin. */
export const plugin: PluginManifest = {
  name: "sigmoid",
  title: "Sigmoid attention (FlashSigmoid)",
  paper: {
    title: "Theory, Analysis, and Best Practices for Sigmoid Self-Attention",
    arxiv: "2409.04431",
    code: "https://github.com/apple/ml-sigmoid-attention",
  },
  supports: { causal: true, nonCausal: true },
  configSchema: sigmoidConfigSchema,
  ops: { cpu: { createMixer: createSigmoidMixer }, cuda: { createMixer: createSigmoidMixer } },
  cost: sigmoidMixerCost,
  kernels: {
    // FlashSigmoid (kernels/NOTES.md): built with the runtime; on CUDA the mixer's attention runs on the forward
    sources: [
      "kernels/status.cu",
      "kernels/forward_api.cu",
      "kernels/forward.cu",
      "kernels/forward_sm90.cu",
      "kernels/backward.cu",
      "kernels/decode.cu",
      "kernels/backward_fused.cu",
      "kernels/backward_sm90.cu",
    ],
    symbols: {
      attnzoo_sigmoid_forward: FORWARD,
      attnzoo_sigmoid_forward_mma: FORWARD,
      attnzoo_sigmoid_forward_sm90: FORWARD,
      attnzoo_sigmoid_forward_strided: STRIDED_FORWARD,
      attnzoo_sigmoid_decode: STRIDED_FORWARD,
      attnzoo_sigmoid_forward_varlen: VARLEN_FORWARD,
      attnzoo_sigmoid_backward: BACKWARD,
      attnzoo_sigmoid_backward_mma: BACKWARD,
      attnzoo_sigmoid_backward_varlen: VARLEN_BACKWARD,
      attnzoo_sigmoid_backward_varlen_mma: VARLEN_BACKWARD,
      attnzoo_sigmoid_last_error: { parameters: ["pointer", "i32"], result: "i32" },
    },
  },
  configs,
  baseUrl: new URL(".", import.meta.url).href,
};

/**
 * Sigmoid attention over a packed batch of variable-length sequences, as FlashAttention's varlen
 * API lays it out: q [total_q, H, d], k and v [total_k, Hkv, d] (H a multiple of Hkv), sequence b
 * owning query rows [cuSeqlensQ[b], cuSeqlensQ[b + 1]) and key rows [cuSeqlensK[b],
 * cuSeqlensK[b + 1]) → o [total_q, H, d] on q's device, in q's dtype. Each sequence is its own
 * problem: O = σ(scale·q kᵀ + b − slope·|i + nk − nq − j|) V, the causal mask and the ALiBi
 * distances bottom-right aligned per sequence (query i of a sequence with nq queries and nk keys
 * sits at key position i + nk − nq). Offsets: B + 1 integers from 0, non-decreasing, ending at
 * total_q / total_k; a sequence may have no queries, but one with queries needs a key.
 *
 * On CUDA, bf16/f16 with head dims 32, 64, 96, 128 and 256 run on the FlashSigmoid varlen kernel
 * (`kernels/forward_api.cu`); other inputs, and every CPU tensor, take the reference math (f64)
 * sequence by sequence. Bad arguments throw ShapeError, DTypeError or ConfigError naming them.
 *
 * @example
 * ```ts
 * import { randn } from "@attnzoo/zoo";
 * const q = randn([7, 4, 16], { seed: 1 }); // sequences of 3 and 4 queries, 4 heads
 * const k = randn([9, 2, 16], { seed: 2 }); // 5 and 4 keys, 2 KV heads
 * const v = randn([9, 2, 16], { seed: 3 });
 * const o = sigmoidAttentionVarlen(q, k, v, [0, 3, 7], [0, 5, 9], { bias: -Math.log(4096), causal: true });
 * o.shape; // [7, 4, 16]
 * ```
 */
export function sigmoidAttentionVarlen(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  cuSeqlensQ: SequenceOffsets,
  cuSeqlensK: SequenceOffsets,
  options: SigmoidVarlenOptions,
): Tensor {
  const problem = checkVarlen("sigmoidAttentionVarlen", q, k, v, cuSeqlensQ, cuSeqlensK, options);
  if (q.device === "cpu") return varlenOnHost(problem, q, k, v);
  const kernels = backendFor(q.device).pluginKernels?.(plugin);
  if (kernels !== undefined && kernelTakes(problem, q)) return varlenOnDevice(kernels, problem, q, k, v);
  using onHost = varlenOnHost(problem, q, k, v);
  return toDevice(onHost, q.device);
}
