/**
 * Softmax attention, the baseline every paper compares against: O = softmax(Q Kᵀ·d^-½ + mask) V
 * with bottom-right causal alignment, optional ALiBi and GQA/MQA. CPU reference forward (with
 * logsumexp) and backward, and the token mixer for ViTs and LMs.
 *
 * @module
 */
import { dotProductMixerCost } from "../../core/nn/mod.ts";
import type { MixerCost, MixerSpec, PluginManifest } from "../../core/plugin.ts";
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
  kernels: { sources: [], symbols: {} },
  configs,
  baseUrl: new URL(".", import.meta.url).href,
};
