// Schema pieces every architecture's config shares.
import { z } from "zod";
import { type AttentionChoice, attentionPerBlock } from "./_attention.ts";

/** A positive integer. */
export const positive: z.ZodNumber = z.number().int().positive();

/** The model card fields every config must have. */
export const CardSchema: z.ZodType<{ summary: string; paper: string; weights: string }> = z.looseObject({
  summary: z.string(),
  paper: z.string(),
  weights: z.string(),
});

/** Adds an issue at `heads` when they do not divide `dim`. */
export function checkHeads(
  ctx: z.RefinementCtx,
  dim: number,
  heads: number,
  path: (string | number)[] = ["heads"],
): void {
  if (dim % heads !== 0) ctx.addIssue({ code: "custom", path, message: `must divide dim ${dim}` });
}

/** Adds an issue at `attention` when the choices do not cover each block exactly once. */
export function checkAttention(
  ctx: z.RefinementCtx,
  attention: AttentionChoice | AttentionChoice[],
  depth: number,
): void {
  try {
    attentionPerBlock(attention, depth);
  } catch (err) {
    ctx.addIssue({ code: "custom", path: ["attention"], message: (err as Error).message });
  }
}
