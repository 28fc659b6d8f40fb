/**
 * Sigmoid attention (FlashSigmoid, arXiv 2409.04431): O = σ(Q Kᵀ·d^-½ + b) V with b = −ln(n),
 * causal masking, ALiBi with the full-offset rule, GQA and QK-norm. CPU reference forward and
 * backward, and the token mixer for ViTs and LMs.
 *
 * @module
 */
import { dotProductMixerCost } from "../../core/nn/mod.ts";
import type { FfiSymbol, FfiType, MixerCost, MixerSpec, PluginManifest } from "../../core/plugin.ts";
import { parseSigmoidConfig, sigmoidConfigSchema } from "./config.ts";
import { createSigmoidMixer, sigmoidMixerOptions } from "./mixer.ts";
import { configs } from "./_configs.ts";

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

/** The backward: dtype, q, k, v, dout, dq, dk, dv, the f32 dQ workspace (B·Nq·H·d elements; read
 * only by the atomic mode), the sizes and options with `deterministic` (i32) before the stream. */
const BACKWARD: FfiSymbol = {
  parameters: ["i32", ...Array<FfiType>(8).fill("u64"), ...SIZES_AND_OPTIONS.slice(0, -1), "i32", "u64"],
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
      attnzoo_sigmoid_backward: BACKWARD,
      attnzoo_sigmoid_backward_mma: BACKWARD,
      attnzoo_sigmoid_last_error: { parameters: ["pointer", "i32"], result: "i32" },
    },
  },
  configs,
  baseUrl: new URL(".", import.meta.url).href,
};
