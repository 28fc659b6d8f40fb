// A build's identity: sha256 over the compiler's version, the exact arguments, and the path and
// contents of every source and header. Stored next to each output; equal stamps skip the build.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { SourceFile } from "./sources.ts";

/** Everything that determines a build output. */
export interface BuildInputs {
  /** `nvcc --version` output. */
  compiler: string;
  /** nvcc arguments, output path excluded. */
  args: readonly string[];
  /** Sources and headers. */
  files: readonly SourceFile[];
  /** Fingerprints of libraries this one links against. */
  dependencies: readonly string[];
}

/** Hex sha256 of the build inputs. */
export function fingerprint(inputs: BuildInputs): string {
  const hash = createHash("sha256");
  const field = (value: string) => hash.update(`${value.length}:${value}`);
  field(inputs.compiler);
  for (const arg of inputs.args) field(arg);
  for (const file of inputs.files) [file.path, file.text].forEach(field);
  for (const dependency of inputs.dependencies) field(dependency);
  return hash.digest("hex");
}

/** Path of the stamp file that records the fingerprint of `output`. */
export function stampPath(output: string): string {
  return `${output}.sha256`;
}

/** Whether `output` exists and was built from inputs with this fingerprint. */
export function isUpToDate(output: string, print: string): boolean {
  const stamp = stampPath(output);
  return existsSync(output) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === print;
}
