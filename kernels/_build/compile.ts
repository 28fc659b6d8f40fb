// One nvcc run per output, skipped when the output's stamp matches the inputs' fingerprint. Outputs
// are written to a temporary name and renamed, so a concurrent or interrupted build never leaves a
// half-written library where a loader may open it.
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { fingerprint, isUpToDate, stampPath } from "./fingerprint.ts";
import { libraryFileName } from "./locations.ts";
import { COMPILE_FLAGS, CUBLAS_LIBS, type Nvcc, runNvcc } from "./nvcc.ts";
import { readLibrarySources } from "./sources.ts";

/** What a build produced. */
export interface BuildResult {
  /** Path of the output. */
  path: string;
  /** Fingerprint of its inputs. */
  print: string;
  /** False when the existing output was up to date. */
  built: boolean;
}

/** A library that a new library links against (the shared runtime). */
export interface LinkedLibrary {
  /** Library name (`runtime`). */
  name: string;
  /** Its build. */
  build: BuildResult;
}

function produce(nvcc: Nvcc, output: string, args: string[], print: string, what: string): BuildResult {
  if (isUpToDate(output, print)) return { path: output, print, built: false };
  mkdirSync(dirname(output), { recursive: true });
  const temporary = `${output}.${process.pid}.tmp`;
  try {
    runNvcc(nvcc, [...args, "-o", temporary], what);
    renameSync(temporary, output);
  } finally {
    rmSync(temporary, { force: true });
  }
  writeFileSync(stampPath(output), `${print}\n`);
  return { path: output, print, built: true };
}

/**
 * Builds `libattnzoo_<name>.so` in `outDir` from `sources`, with `includeDirs` on the include path,
 * linked against `links` (found next to it at run time through $ORIGIN) and cuBLAS when included.
 */
export function buildLibrary(
  nvcc: Nvcc,
  name: string,
  sources: readonly string[],
  outDir: string,
  includeDirs: readonly string[],
  links: readonly LinkedLibrary[],
): BuildResult {
  const files = readLibrarySources(sources, includeDirs);
  const fileName = libraryFileName(name);
  const args = [
    ...COMPILE_FLAGS,
    "-shared",
    ...includeDirs.map((dir) => `-I${dir}`),
    "-Xlinker",
    `-soname,${fileName}`,
    ...files.sources.map((file) => file.path),
    ...(links.length > 0 ? ["-L", outDir, "-Xlinker", "-rpath,$ORIGIN"] : []),
    ...links.map((link) => `-lattnzoo_${link.name}`),
    ...(files.usesCublas ? CUBLAS_LIBS : []),
  ];
  const print = fingerprint({
    compiler: nvcc.version,
    args,
    files: [...files.sources, ...files.headers],
    dependencies: links.map((link) => link.build.print),
  });
  return produce(nvcc, join(outDir, fileName), args, print, fileName);
}

/** Compiles each of `sources` to `<objDir>/<source>.o` without linking (a compile check). */
export function buildObjects(
  nvcc: Nvcc,
  sources: readonly string[],
  objDir: string,
  includeDirs: readonly string[],
): BuildResult[] {
  return sources.map((source) => {
    const files = readLibrarySources([source], includeDirs);
    const args = [...COMPILE_FLAGS, ...includeDirs.map((dir) => `-I${dir}`), "-c", files.sources[0].path];
    const print = fingerprint({
      compiler: nvcc.version,
      args,
      files: [...files.sources, ...files.headers],
      dependencies: [],
    });
    return produce(nvcc, join(objDir, `${basename(source, ".cu")}.o`), args, print, basename(source));
  });
}
