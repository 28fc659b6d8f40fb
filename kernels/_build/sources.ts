// What a kernel library is made of: its .cu files and every local header they include
// (transitively), read from disk so the fingerprint changes whenever any of them does.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** A source or header and its text. */
export interface SourceFile {
  /** Absolute path. */
  path: string;
  /** File contents. */
  text: string;
}

/** The files of one library and what they pull in. */
export interface LibrarySources {
  /** The .cu files nvcc compiles, in order. */
  sources: SourceFile[];
  /** Local headers reached through `#include "..."`, sorted by path. */
  headers: SourceFile[];
  /** Whether any file includes a cuBLAS header, so the library must link cuBLAS. */
  usesCublas: boolean;
}

const QUOTED_INCLUDE = /^\s*#\s*include\s*"([^"]+)"/gm;
const CUBLAS_INCLUDE = /^\s*#\s*include\s*<cublas(?:Lt|_v2|_api)?\.h>/m;

/** The `*.cu` files directly in `dir`, sorted (the shared runtime's sources). */
export function listCudaSources(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith(".cu")).sort().map((name) => join(dir, name));
}

/**
 * Reads `paths` and the local headers they include, resolving each `#include "x"` against the
 * including file's folder, then `includeDirs`, as the preprocessor does. Quoted includes found in
 * neither place are left to nvcc (system headers).
 */
export function readLibrarySources(paths: readonly string[], includeDirs: readonly string[]): LibrarySources {
  const sources = paths.map((path) => ({ path: resolve(path), text: readFileSync(path, "utf8") }));
  const headers = new Map<string, SourceFile>();
  const pending = [...sources];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    for (const [, name] of file.text.matchAll(QUOTED_INCLUDE)) {
      const path = [dirname(file.path), ...includeDirs].map((dir) => resolve(dir, name)).find(existsSync);
      if (path === undefined || headers.has(path)) continue;
      const header = { path, text: readFileSync(path, "utf8") };
      headers.set(path, header);
      pending.push(header);
    }
  }
  const sorted = [...headers.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const usesCublas = [...sources, ...sorted].some((file) => CUBLAS_INCLUDE.test(file.text));
  return { sources, headers: sorted, usesCublas };
}
