// Where kernel libraries live: a prebuilt folder ($ATTNZOO_LIB_DIR), or a per-checkout cache
// folder under $XDG_CACHE_HOME (default ~/.cache) so separate installs never overwrite each other.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { DeviceUnavailableError } from "../../core/errors.ts";

/** File name of a kernel library: `libattnzoo_<name>.so`. */
export function libraryFileName(name: string): string {
  return `libattnzoo_${name}.so`;
}

/** $ATTNZOO_LIB_DIR, or undefined when it is unset or empty. */
export function prebuiltDir(): string | undefined {
  return process.env.ATTNZOO_LIB_DIR || undefined;
}

/** attnzoo's cache folder: `$XDG_CACHE_HOME/attnzoo`, default `~/.cache/attnzoo`. */
export function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "attnzoo");
}

/** The build folder for the kernels in `kernelsDir`: `<root>/<sha256(kernelsDir)[:16]>`. */
export function cacheDir(root: string, kernelsDir: string): string {
  return join(root, createHash("sha256").update(kernelsDir).digest("hex").slice(0, 16));
}

/**
 * Paths of the prebuilt libraries `names` in `dir`; throws DeviceUnavailableError("cuda") listing
 * every one that is missing.
 */
export function resolvePrebuilt(dir: string, names: readonly string[]): Map<string, string> {
  const paths = new Map(names.map((name) => [name, join(dir, libraryFileName(name))]));
  const missing = [...paths.values()].filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new DeviceUnavailableError(
      "cuda",
      `ATTNZOO_LIB_DIR=${dir} lacks ${
        missing.join(", ")
      } (build them with \`deno run -A kernels/build.ts --out ${dir}\`)`,
    );
  }
  return paths;
}
