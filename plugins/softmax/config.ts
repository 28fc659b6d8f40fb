/**
 * The `attention` config block of softmax-attention models, with its defaults.
 *
 * @module
 */
import { z } from "zod";
import { parseConfig } from "../../core/plugin.ts";

/** A validated softmax attention config. */
export interface SoftmaxConfig {
  /** ALiBi (slopes from the head count), −slope·|i + Nk − Nq − j| on every score. Default false. */
  alibi: boolean;
}

/** Zod schema of {@linkcode SoftmaxConfig}; unknown fields are rejected. */
export const softmaxConfigSchema: z.ZodType<SoftmaxConfig> = z.strictObject({
  alibi: z.boolean().default(false),
}) as unknown as z.ZodType<SoftmaxConfig>;

/** Parses a config; a bad field throws ConfigError naming it. */
export function parseSoftmaxConfig(config: unknown, source = "softmax attention config"): SoftmaxConfig {
  return parseConfig(softmaxConfigSchema, config, source);
}
