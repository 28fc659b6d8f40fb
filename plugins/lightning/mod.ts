/**
 * The lightning plugin: TransNormerLLM's gated linear attention with per-head exponential decay,
 * computed as Lightning Attention-2 (blocked causal form), with a recurrent O(1)-per-token decode
 * and a bidirectional two-scan variant for vision; fused CUDA kernels (`kernels/`) on the GPU.
 *
 * @module
 */
import type { PluginManifest } from "../../core/plugin.ts";
import { configs } from "./_configs.ts";
import { lightningConfigSchema } from "./config.ts";
import { createLightningMixer, lightningMixerCost } from "./mixer.ts";
import { lightningKernelManifest } from "./_fused.ts";

export {
  createLightningState,
  type DecayRates,
  lightningAttention,
  lightningAttentionBidirectional,
  lightningAttentionBidirectionalNaive,
  lightningAttentionBlocked,
  lightningAttentionNaive,
  type LightningAttentionOptions,
  LightningState,
  lightningStep,
} from "./reference.ts";
export { lightningBackwardBlocked, lightningBackwardNaive, type LightningGrads } from "./backward.ts";
export { applyLrpe, lrpeTheta } from "./lrpe.ts";
export { layerDecayRates } from "./decay.ts";
export { type Activation, type LightningConfig, lightningConfigSchema, parseLightningConfig } from "./config.ts";
export { createLightningMixer, lightningMixerCost } from "./mixer.ts";

/** The lightning attention plugin manifest. */
export const plugin: PluginManifest = {
  name: "lightning",
  title: "Lightning attention (TransNormerLLM)",
  paper: {
    title: "Lightning Attention-2: A Free Lunch for Handling Unlimited Sequence Lengths in Large Language Models",
    arxiv: "2401.04658",
    code: "https://github.com/OpenNLPLab/lightning-attention",
  },
  supports: { causal: true, nonCausal: true },
  configSchema: lightningConfigSchema,
  ops: { cpu: { createMixer: createLightningMixer }, cuda: { createMixer: createLightningMixer } },
  cost: lightningMixerCost,
  // fused forward (causal with states, bidirectional) and recurrent decode; the CUDA mixer uses them
  kernels: lightningKernelManifest,
  configs,
  baseUrl: new URL(".", import.meta.url).href,
};
