/**
 * The `attention` config block of FLatten (focused linear attention) models, with its defaults.
 *
 * @module
 */
import { z } from "zod";
import { parseConfig } from "../../core/plugin.ts";

/** A validated FLatten attention config. */
export interface FlattenConfig {
  /** Power p of the focusing function f(x) = ‖x‖·x^p/‖x^p‖ (an integer; the official default is 3). */
  focusingFactor: number;
  /** Side of the rank-restoring depthwise conv (K×K in vision, K taps causal); odd, default 5. */
  kernelSize: number;
  /** Spatial reduction of keys/values (FLatten-PVT's `sr_ratio`); 1 = none. Needs `projection: "q_kv"`. */
  srRatio: number;
  /** `qkv` (one fused Linear, FLatten-Swin and the causal form) or `q_kv` (`q` and `kv`, FLatten-PVT). */
  projection: "qkv" | "q_kv";
  /** FLatten-Swin: side of the square window the layer sees; its token grid is window × window. */
  window?: number;
  /**
   * Kernel-trick order: `kv` computes (kᵀv) first (the released code), `qk` computes (q kᵀ) first,
   * `auto` picks the cheaper one by the rule of the first official release (N·n·2d > d²·(N + n)).
   */
  order: "auto" | "kv" | "qk";
}

/** Zod schema of {@linkcode FlattenConfig}; unknown fields are rejected. */
export const flattenConfigSchema: z.ZodType<FlattenConfig> = z.strictObject({
  focusingFactor: z.number().int().min(1).max(8).default(3),
  kernelSize: z.number().int().positive().refine((k) => k % 2 === 1, "must be odd").default(5),
  srRatio: z.number().int().positive().default(1),
  projection: z.enum(["qkv", "q_kv"]).default("qkv"),
  window: z.number().int().positive().optional(),
  order: z.enum(["auto", "kv", "qk"]).default("auto"),
}).refine((c) => c.srRatio === 1 || c.projection === "q_kv", {
  message: 'srRatio > 1 reduces keys/values only, so it needs projection "q_kv"',
  path: ["srRatio"],
}) as unknown as z.ZodType<FlattenConfig>;

/** Parses a config; a bad field throws ConfigError naming it. */
export function parseFlattenConfig(config: unknown, source = "flatten attention config"): FlattenConfig {
  return parseConfig(flattenConfigSchema, config, source);
}
