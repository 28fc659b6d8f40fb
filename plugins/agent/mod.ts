/**
 * Agent Attention (arXiv 2312.08874): n agent tokens aggregate the values with softmax
 * attention over the keys, then every query reads the agents — softmax quality at linear cost
 * O(N·n·d). The vision forms of the official Agent-DeiT, Agent-Swin and Agent-PVT code, and a
 * causal LM form of this zoo's design (learned agents, prefix-normalised aggregation, O(n·d)
 * decode state per head).
 *
 * @module
 */
import type { MixerCost, MixerSpec, PluginManifest, TokenMixer } from "../../core/plugin.ts";
import { numel } from "../../core/tensor.ts";
import { causalAgentParameterShapes, createCausalAgentMixer } from "./causal_mixer.ts";
import { ConfigError } from "../../core/errors.ts";
import {
  AgentConfigSchema,
  agentGeometry,
  agentParameterShapes,
  checkHeads,
  CONFIG_SOURCE,
  parseAgentConfig,
} from "./config.ts";
import { createVisionAgentMixer } from "./mixer.ts";
import { configs } from "./_configs.ts";

export {
  type AgentConfig,
  AgentConfigSchema,
  type AgentGeometry,
  agentGeometry,
  agentParameterShapes,
  parseAgentConfig,
} from "./config.ts";
export { agentAttention, type AgentAttentionOptions, agentLayerReference } from "./reference.ts";
export {
  causalAgentAttention,
  type CausalAgentAttentionOptions,
  type CausalAgentLayerOptions,
  causalAgentLayerReference,
} from "./causal_reference.ts";
export { causalAgentParameterShapes, createCausalAgentMixer } from "./causal_mixer.ts";
export { createVisionAgentMixer } from "./mixer.ts";

/** Creates the agent mixer of a spec: the causal LM form or the vision form its config selects. */
export function createAgentMixer(spec: MixerSpec, config: unknown): TokenMixer {
  const parsed = parseAgentConfig(config);
  if (spec.kvHeads !== undefined && spec.kvHeads !== spec.heads) {
    throw new ConfigError(
      CONFIG_SOURCE,
      "kvHeads",
      `agent attention has no grouped k/v heads (${spec.kvHeads} ≠ ${spec.heads})`,
    );
  }
  return spec.causal ? createCausalAgentMixer(spec, parsed) : createVisionAgentMixer(spec, parsed);
}

/** Parameters and forward FLOPs (multiply-add = 2) of one agent mixer over `tokens` tokens. */
export function agentMixerCost(spec: MixerSpec, config: unknown, tokens: number): MixerCost {
  const cfg = parseAgentConfig(config);
  const c = spec.dim;
  const n = cfg.agentNum;
  const count = (shapes: Map<string, number[]>): number => [...shapes.values()].reduce((sum, s) => sum + numel(s), 0);
  if (spec.causal) {
    checkHeads(c, spec.heads);
    // qkv and proj, agent→key and query→agent scores, the scan's update and read-out, the conv
    const flops = 2 * tokens * 4 * c * c + 2 * tokens * n * c * 4 + 2 * tokens * c * cfg.kernelSize;
    return { params: count(causalAgentParameterShapes(spec, cfg)), flops };
  }
  const g = agentGeometry(spec, cfg);
  const cls = g.classToken ? 1 : 0;
  const windows = tokens / (cls + g.window[0] * g.window[1]);
  const keys = windows * (cls + g.kvGrid[0] * g.kvGrid[1]);
  const r = g.srRatio;
  // q and proj per query, k and v per key (after the sr conv), agents both ways, 3×3 DWC on patches
  const projections = 2 * tokens * 2 * c * c + 2 * keys * 2 * c * c + (r > 1 ? 2 * keys * c * c * r * r : 0);
  const attention = 2 * 2 * c * n * (keys + tokens);
  const flops = projections + attention + 2 * 9 * c * (tokens - windows * cls);
  return { params: count(agentParameterShapes(g, spec.qkvBias ?? true)), flops };
}

/** The agent attention plugin. */
export const plugin: PluginManifest = {
  name: "agent",
  title: "Agent Attention",
  paper: {
    title: "Agent Attention: On the Integration of Softmax and Linear Attention",
    arxiv: "2312.08874",
    code: "https://github.com/LeapLabTHU/Agent-Attention",
  },
  supports: { causal: true, nonCausal: true },
  configSchema: AgentConfigSchema,
  ops: { cpu: { createMixer: createAgentMixer }, cuda: { createMixer: createAgentMixer } },
  cost: agentMixerCost,
  kernels: { sources: [], symbols: {} },
  configs,
  baseUrl: new URL(".", import.meta.url).href,
};
