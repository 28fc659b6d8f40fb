// Official-code fixtures of tests/fixtures/agent (made by tests/fixtures/gen_agent.py) and the
// geometry each was generated with.
import { readSafetensors } from "../../../core/io/safetensors.ts";
import type { Tensor } from "../../../core/tensor.ts";
import {
  type AgentConfig,
  AgentConfigSchema,
  type AgentGeometry,
  agentGeometry,
} from "../../../plugins/agent/config.ts";

/** One fixture: its file, the spec and config it was made with. */
export interface AgentFixture {
  file: string;
  dim: number;
  heads: number;
  grid: [number, number];
  classToken: boolean;
  config: Partial<AgentConfig>;
}

/** Every official fixture. */
export const FIXTURES: AgentFixture[] = [
  { file: "deit_a9_w8", dim: 48, heads: 3, grid: [8, 8], classToken: true, config: { agentNum: 9 } },
  { file: "deit_a49_w10", dim: 48, heads: 3, grid: [10, 10], classToken: true, config: { agentNum: 49 } },
  {
    file: "swin_w6_shift3",
    dim: 48,
    heads: 3,
    grid: [12, 12],
    classToken: false,
    config: { agentNum: 4, window: 6, shift: 3 },
  },
  { file: "swin_w5_global", dim: 32, heads: 2, grid: [5, 5], classToken: false, config: { agentNum: 9 } },
  {
    file: "pvt_sr2",
    dim: 32,
    heads: 2,
    grid: [8, 8],
    classToken: false,
    config: { agentNum: 4, srRatio: 2, projection: "q_kv" },
  },
  { file: "pvt_sr1", dim: 40, heads: 5, grid: [6, 6], classToken: false, config: { agentNum: 9, projection: "q_kv" } },
];

/** The fixture's tensors by name. */
export function loadFixture(f: AgentFixture): Map<string, Tensor> {
  return readSafetensors(new URL(`../../fixtures/agent/${f.file}.safetensors`, import.meta.url).pathname);
}

/** The fixture's config with defaults. */
export function fixtureConfig(f: AgentFixture): AgentConfig {
  return AgentConfigSchema.parse(f.config);
}

/** The fixture's geometry. */
export function fixtureGeometry(f: AgentFixture): AgentGeometry {
  return agentGeometry(f, fixtureConfig(f));
}
