// Builds go in two steps: each .cu compiles to its own object (in parallel, each skipped when its
// stamp matches its fingerprint), then the objects link into the library (skipped likewise). So
// an edit recompiles only the files it reaches. Outputs are written under a temporary name and
// renamed, so a concurrent or interrupted build never leaves a half-written file to be loaded.
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import process from "node:process";
import { DeviceUnavailableError } from "../../core/errors.ts";
import { fingerprint, isUpToDate, stampPath } from "./fingerprint.ts";
import { libraryFileName } from "./locations.ts";
import { COMPILE_FLAGS, CUBLAS_LIBS, type Nvcc, runNvcc } from "./nvcc.ts";
import { runParallel } from "./parallel.ts";
import { readLibrarySources } from "./sources.ts";

/** What a build step produced. */
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

/** A compiled library and the objects it was linked from. */
export interface LibraryBuild {
  /** The .so. */
  library: BuildResult;
  /** Its objects, one per source. */
  objects: BuildResult[];
}

function temporary(path: string): string {
  return `${path}.${process.pid}.tmp`;
}

function commit(path: string, print: string): void {
  renameSync(temporary(path), path);
  writeFileSync(stampPath(path), `${print}\n`);
}

/**
 * Compiles each of `sources` to `<objDir>/<name>.o` (nvcc -c), the stale ones in parallel, and
 * reports whether the library needs cuBLAS. A failed compile throws DeviceUnavailableError("cuda")
 * with every failing command and its diagnostics.
 */
export function buildObjects(
  nvcc: Nvcc,
  sources: readonly string[],
  objDir: string,
  includeDirs: readonly string[],
): { objects: BuildResult[]; usesCublas: boolean } {
  let usesCublas = false;
  const plans = sources.map((source) => {
    const files = readLibrarySources([source], includeDirs);
    usesCublas ||= files.usesCublas;
    const args = [...COMPILE_FLAGS, ...includeDirs.map((dir) => `-I${dir}`), "-c", files.sources[0].path];
    const print = fingerprint({
      compiler: nvcc.version,
      args,
      files: [...files.sources, ...files.headers],
      dependencies: [],
    });
    const path = join(objDir, `${basename(source, ".cu")}.o`);
    return { path, args, print, built: !isUpToDate(path, print) };
  });
  const stale = plans.filter((plan) => plan.built);
  mkdirSync(objDir, { recursive: true });
  const results = runParallel(stale.map((plan) => [nvcc.command, ...plan.args, "-o", temporary(plan.path)]));
  const failures = stale.flatMap((plan, i) =>
    results[i].status === 0 ? [] : [`${nvcc.command} ${plan.args.join(" ")}\n${results[i].output.trim()}`]
  );
  if (failures.length > 0) {
    for (const plan of stale) rmSync(temporary(plan.path), { force: true });
    throw new DeviceUnavailableError("cuda", `nvcc failed to compile:\n${failures.join("\n")}`);
  }
  for (const plan of stale) commit(plan.path, plan.print);
  return { objects: plans.map(({ path, print, built }) => ({ path, print, built })), usesCublas };
}

/**
 * Builds `libattnzoo_<name>.so` in `outDir` from `sources` (objects under `<outDir>/obj/<name>/`),
 * linked against `links` (found next to it at run time through $ORIGIN) and cuBLAS when included.
 */
export function buildLibrary(
  nvcc: Nvcc,
  name: string,
  sources: readonly string[],
  outDir: string,
  includeDirs: readonly string[],
  links: readonly LinkedLibrary[],
): LibraryBuild {
  const { objects, usesCublas } = buildObjects(nvcc, sources, join(outDir, "obj", name), includeDirs);
  const fileName = libraryFileName(name);
  const args = [
    "-shared",
    "-Xlinker",
    `-soname,${fileName}`,
    ...objects.map((object) => object.path),
    ...(links.length > 0 ? ["-L", outDir, "-Xlinker", "-rpath,$ORIGIN"] : []),
    ...links.map((link) => `-lattnzoo_${link.name}`),
    ...(usesCublas ? CUBLAS_LIBS : []),
  ];
  const print = fingerprint({
    compiler: nvcc.version,
    args,
    files: [],
    dependencies: [...objects, ...links.map((link) => link.build)].map((build) => build.print),
  });
  const path = join(outDir, fileName);
  if (isUpToDate(path, print)) return { library: { path, print, built: false }, objects };
  try {
    runNvcc(nvcc, [...args, "-o", temporary(path)], fileName);
    commit(path, print);
  } finally {
    rmSync(temporary(path), { force: true });
  }
  return { library: { path, print, built: true }, objects };
}
