// The `attention` block of model configs: one plugin for every block, or ranges of blocks each
// with their own plugin (Agent-DeiT-B: agent in blocks 0–3, softmax after).
import { z } from "zod";
import type { PluginManifest } from "../core/plugin.ts";

/** One attention choice: the plugin name, the blocks it covers [start, end), and its config. */
export const AttentionChoiceSchema: z.ZodType<AttentionChoice> = z.looseObject({
  plugin: z.string().min(1),
  blocks: z.tuple([z.number().int().nonnegative(), z.number().int().positive()]).optional(),
}) as z.ZodType<AttentionChoice>;

/** One attention choice of a config. */
export interface AttentionChoice {
  /** Registered plugin name. */
  plugin: string;
  /** Blocks [start, end) that use it; all blocks when omitted. */
  blocks?: [number, number];
  /** The plugin's own config fields. */
  [key: string]: unknown;
}

/** Schema of a config's `attention` field. */
export const AttentionFieldSchema: z.ZodType<AttentionChoice | AttentionChoice[]> = z.union([
  AttentionChoiceSchema,
  z.array(AttentionChoiceSchema).min(1),
]);

/** The plugin and config of each block; throws a message naming the first uncovered block. */
export function attentionPerBlock(field: AttentionChoice | AttentionChoice[], depth: number): AttentionChoice[] {
  const choices = Array.isArray(field) ? field : [field];
  const perBlock: (AttentionChoice | undefined)[] = Array(depth).fill(undefined);
  for (const choice of choices) {
    const [start, end] = choice.blocks ?? [0, depth];
    if (end > depth || start >= end) throw new Error(`attention blocks [${start}, ${end}) outside 0..${depth}`);
    for (let i = start; i < end; i++) {
      if (perBlock[i] !== undefined) throw new Error(`block ${i} has two attention choices`);
      perBlock[i] = choice;
    }
  }
  const missing = perBlock.findIndex((c) => c === undefined);
  if (missing >= 0) throw new Error(`block ${missing} has no attention choice`);
  return perBlock as AttentionChoice[];
}

/** The plugin-specific part of a choice (without `plugin` and `blocks`). */
export function pluginConfig(choice: AttentionChoice): Record<string, unknown> {
  const { plugin: _plugin, blocks: _blocks, ...rest } = choice;
  return rest;
}

/** Resolves the plugin of a choice (throws NotFoundError with a suggestion when unknown). */
export type PluginLookup = (name: string) => PluginManifest;
