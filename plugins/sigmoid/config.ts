/**
 * The `attention` config block of sigmoid-attention models, with its defaults.
 *
 * @module
 */
import { z } from "zod";
import { parseConfig } from "../../core/plugin.ts";

/** A validated sigmoid attention config. */
export interface SigmoidConfig {
  /** Scalar b added to every score; default −ln(maxLength). */
  bias?: number;
  /** The training / maximum length n that sets b = −ln(n). Default 4096 (the paper's LM context). */
  maxLength: number;
  /** ALiBi with the full-offset rule (slopes from the head count). Default false. */
  alibi: boolean;
  /** QK-norm over the head dim: none, RMSNorm or LayerNorm. Default none. */
  qkNorm: "none" | "rms" | "layer";
}

/** Zod schema of {@linkcode SigmoidConfig}; unknown fields are rejected. */
export const sigmoidConfigSchema: z.ZodType<SigmoidConfig> = z.strictObject({
  bias: z.number().optional(),
  maxLength: z.number().int().positive().default(4096),
  alibi: z.boolean().default(false),
  qkNorm: z.enum(["none", "rms", "layer"]).default("none"),
}) as unknown as z.ZodType<SigmoidConfig>;

/** Parses a config; a bad field throws ConfigError naming it. */
export function parseSigmoidConfig(config: unknown, source = "sigmoid attention config"): SigmoidConfig {
  return parseConfig(sigmoidConfigSchema, config, source);
}

/** The score bias b of a config: `bias` when given, else −ln(maxLength). */
export function scoreBias(config: SigmoidConfig): number {
  return config.bias ?? -Math.log(config.maxLength);
}
