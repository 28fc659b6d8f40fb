// Turns a zod failure into a ConfigError naming the file and the first offending field.
import type { z } from "zod";
import { ConfigError } from "./errors.ts";

/** Parses `value` with `schema`; on failure throws ConfigError(source, field, message). */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, source: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // strict objects report unknown keys at the object's path: name the key itself
  const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
  const field = [...issue.path.map(String), ...keys].join(".");
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : "";
  throw new ConfigError(source, field, issue.message + more);
}
