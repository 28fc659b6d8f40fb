/**
 * The `attention` config block of lightning (TransNormerLLM) models, with its defaults. Field
 * names follow the official `TransnormerConfig` in camelCase: `linear_act_fun` → `actFun`,
 * `norm_type` → `normType`, `linear_use_lrpe_list` → `useLrpeList`, `hidden_dim` → `hiddenDim`.
 *
 * @module
 */
import { z } from "zod";
import { parseConfig } from "../../core/plugin.ts";
import { ConfigError } from "../../core/errors.ts";

/** Feature maps the official `get_activation_fn` offers for q and k. */
export const ACTIVATIONS: readonly ["swish", "silu", "relu", "elu", "1+elu", "sigmoid"] = [
  "swish",
  "silu",
  "relu",
  "elu",
  "1+elu",
  "sigmoid",
] as const;

/** One q/k feature map. */
export type Activation = typeof ACTIVATIONS[number];

/** A validated lightning attention config. */
export interface LightningConfig {
  /** Block size of the blocked causal form. Default 64 (the official Triton kernel's). */
  blockSize: number;
  /** Feature map on q and k. Default "swish" (= SiLU), as every released checkpoint. */
  actFun: Activation;
  /** Norm of the attention output over all heads: SRMSNorm (eps 1e-6, no weight) or LayerNorm. */
  normType: "simplermsnorm" | "layernorm";
  /** Per layer, whether it uses LRPE (0/1 or booleans). Default: layer 0 only, as released. */
  useLrpeList?: (number | boolean)[];
  /** Width of q, k, v, u (all heads). Default: the model width. */
  hiddenDim?: number;
}

/** Zod schema of {@linkcode LightningConfig}; unknown fields are rejected. */
export const lightningConfigSchema: z.ZodType<LightningConfig> = z.strictObject({
  blockSize: z.number().int().positive().default(64),
  actFun: z.enum(ACTIVATIONS).default("swish"),
  normType: z.enum(["simplermsnorm", "layernorm"]).default("simplermsnorm"),
  useLrpeList: z.array(z.union([z.literal(0), z.literal(1), z.boolean()])).optional(),
  hiddenDim: z.number().int().positive().optional(),
}) as unknown as z.ZodType<LightningConfig>;

/** Parses a config; a bad field throws ConfigError naming it. */
export function parseLightningConfig(config: unknown, source = "lightning attention config"): LightningConfig {
  return parseConfig(lightningConfigSchema, config, source);
}

/** Whether layer `layer` of `layers` uses LRPE under `config`. */
export function usesLrpe(config: LightningConfig, layer: number, layers: number, source: string): boolean {
  const list = config.useLrpeList;
  if (list === undefined) return layer === 0;
  if (list.length !== layers) {
    throw new ConfigError(source, "useLrpeList", `needs one entry per layer (${layers}), got ${list.length}`);
  }
  return list[layer] === true || list[layer] === 1;
}
