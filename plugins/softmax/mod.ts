/**
 * Softmax attention, the baseline every paper compares against: O = softmax(Q Kᵀ·d^-½ + mask) V
 * with bottom-right causal alignment, optional ALiBi and GQA/MQA. CPU reference forward (with
 * logsumexp) and backward, and the token mixer for ViTs and LMs.
 *
 * @module
 */
import { dotProductMixerCost } from "../../core/nn/mod.ts";
import type { FfiType, MixerCost, MixerSpec, PluginManifest } from "../../core/plugin.ts";
import { parseSoftmaxConfig, softmaxConfigSchema } from "./config.ts";
import { createSoftmaxMixer, softmaxMixerOptions } from "./mixer.ts";
import { configs } from "./_configs.ts";

export { parseSoftmaxConfig, type SoftmaxConfig, softmaxConfigSchema } from "./config.ts";
export { createSoftmaxMixer } from "./mixer.ts";
export {
  softmaxAttention,
  softmaxAttentionBackward,
  type SoftmaxAttentionGrads,
  type SoftmaxAttentionOptions,
  type SoftmaxAttentionResult,
  softmaxAttentionWithLse,
} from "./reference.ts";
export type { Slopes } from "../../core/nn/mod.ts";

/** Parameters and forward FLOPs of one softmax mixer over `tokens` tokens. */
export function softmaxMixerCost(spec: MixerSpec, config: unknown, tokens: number): MixerCost {
  return dotProductMixerCost(spec, softmaxMixerOptions(parseSoftmaxConfig(config)), tokens);
}

/** attnzoo_softmax_forward: dtype code, q, k, v, o device pointers, B, H, Hkv, Nq, Nk, d, the
 * (batch, token, head) element strides of q, k, v and o, scale, causal, query offset, ALiBi slopes
 * (device f32 or 0), the slopes' batch stride, stream (kernels/api.cu). */
const FORWARD_PARAMETERS: FfiType[] = [
  "i32",
  ...Array<FfiType>(4).fill("u64"),
  ...Array<FfiType>(6).fill("i32"),
  ...Array<FfiType>(12).fill("i64"),
  "f32",
  "i32",
  "i32",
  "u64",
  "i32",
  "u64",
];

/** The softmax attention plugin. */
export const plugin: PluginManifest = {
  name: "softmax",
  title: "Softmax attention",
  paper: {
    title: "Attention Is All You Need",
    arxiv: "1706.03762",
    code: "https://github.com/Dao-AILab/flash-attention",
  },
  supports: { causal: true, nonCausal: true },
  configSchema: softmaxConfigSchema,
  ops: { cpu: { createMixer: createSoftmaxMixer }, cuda: { createMixer: createSoftmaxMixer } },
  cost: softmaxMixerCost,
  kernels: {
    // FlashSoftmax (kernels/NOTES.md): built with the runtime; on CUDA the mixer's attention runs on it
    sources: ["kernels/api.cu", "kernels/forward.cu"],
    symbols: {
      attnzoo_softmax_forward: { parameters: FORWARD_PARAMETERS, result: "i32" },
      attnzoo_softmax_last_error: { parameters: ["pointer", "i32"], result: "i32" },
    },
  },
  configs,
  baseUrl: new URL(".", import.meta.url).href,
};
