/**
 * Softmax attention, the baseline every paper compares against: O = softmax(Q Kᵀ·d^-½ + mask) V
 * with bottom-right causal alignment, optional ALiBi and GQA/MQA. CPU reference forward (with
 * logsumexp) and backward, and the token mixer for ViTs and LMs.
 *
 * @module
 */
import type { MixerCost, MixerSpec, PluginManifest } from "../../core/plugin.ts";
import { mixerGeometry } from "./_mixer_params.ts";
import { parseSoftmaxConfig, softmaxConfigSchema } from "./config.ts";
import { createSoftmaxMixer } from "./mixer.ts";
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
export type { Slopes } from "./_heads.ts";

/** Parameters and forward FLOPs of one softmax mixer over `tokens` tokens. */
export function softmaxMixerCost(spec: MixerSpec, config: unknown, tokens: number): MixerCost {
  parseSoftmaxConfig(config);
  const geo = mixerGeometry("softmax mixer", spec);
  const qkvRows = (geo.heads + 2 * geo.kvHeads) * geo.headDim;
  const inner = geo.heads * geo.headDim;
  const params = qkvRows * spec.dim + inner * spec.dim + (spec.qkvBias ? qkvRows + spec.dim : 0);
  const pairs = spec.causal ? (tokens * (tokens + 1)) / 2 : tokens * tokens;
  const flops = 2 * tokens * (qkvRows + inner) * spec.dim + 4 * geo.heads * pairs * geo.headDim;
  return { params, flops };
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
  ops: { cpu: { createMixer: createSoftmaxMixer } },
  cost: softmaxMixerCost,
  kernels: { sources: [], symbols: {} },
  configs,
  baseUrl: new URL(".", import.meta.url).href,
};
