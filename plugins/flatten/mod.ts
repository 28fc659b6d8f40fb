/**
 * FLatten — focused linear attention (arXiv 2308.00442): ReLU features sharpened by the focusing
 * function ‖x‖·x^p/‖x^p‖, linear attention in O(N·d²), and a depthwise conv on v that restores
 * the rank. Vision form as the official FLatten-PVT / FLatten-Swin layers, plus a causal LM form
 * with an O(d²)-per-head decode state. CPU reference and token mixer.
 *
 * @module
 */
import type { MixerCost, MixerSpec, PluginManifest } from "../../core/plugin.ts";
import { configs } from "./_configs.ts";
import { flattenGeometry } from "./_params.ts";
import { flattenConfigSchema, parseFlattenConfig } from "./config.ts";
import { createFlattenMixer } from "./mixer.ts";

export { type FlattenConfig, flattenConfigSchema, parseFlattenConfig } from "./config.ts";
export { createFlattenMixer } from "./mixer.ts";
export { flattenAttention, type FlattenAttentionOptions } from "./reference.ts";
export { referenceFlattenMixer, type ReferenceMixerOptions } from "./reference_mixer.ts";

/** Parameters and forward FLOPs (multiply-add = 2) of one FLatten mixer over `tokens` tokens. */
export function flattenMixerCost(spec: MixerSpec, config: unknown, tokens: number): MixerCost {
  const geo = flattenGeometry(spec, parseFlattenConfig(config));
  const { channels: c, headDim: d, kernelSize: k, srRatio: r } = geo;
  const keys = geo.causal ? tokens : Math.max(1, Math.round(tokens / (r * r)));
  const bias = geo.qkvBias ? 3 * c : 0;
  const reduction = r > 1 ? c * c * r * r + 3 * c : 0;
  const taps = geo.causal ? k : k * k;
  const params = 3 * c * c + bias + c * c + c + reduction + d * taps + d + c + (geo.causal ? 0 : geo.keys * c);
  const projections = 2 * tokens * c * c + 2 * keys * 2 * c * c + 2 * tokens * c * c;
  const attention = 2 * (keys + tokens) * d * d * geo.heads + 2 * tokens * c;
  const flops = projections + 2 * keys * c * c * r * r * (r > 1 ? 1 : 0) + attention + 2 * tokens * c * taps;
  return { params, flops };
}

/** The FLatten (focused linear attention) plugin. */
export const plugin: PluginManifest = {
  name: "flatten",
  title: "FLatten: focused linear attention",
  paper: {
    title: "FLatten Transformer: Vision Transformer using Focused Linear Attention",
    arxiv: "2308.00442",
    code: "https://github.com/LeapLabTHU/FLatten-Transformer",
  },
  supports: { causal: true, nonCausal: true },
  configSchema: flattenConfigSchema,
  ops: { cpu: { createMixer: createFlattenMixer }, cuda: { createMixer: createFlattenMixer } },
  cost: flattenMixerCost,
  kernels: { sources: [], symbols: {} },
  configs,
  baseUrl: new URL(".", import.meta.url).href,
};
