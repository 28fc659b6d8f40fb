/**
 * Builds the CUDA kernels: the shared runtime `kernels/*.cu` into `libattnzoo_runtime.so` and each
 * plugin's `kernels.sources` (from its manifest) into `libattnzoo_<plugin>.so`, rebuilding only
 * what changed. Used by the CUDA backend through {@linkcode ensureKernels}, and as a command:
 *
 * ```sh
 * deno run -A kernels/build.ts [--out DIR] [--check] [--nvcc PATH]
 * bun kernels/build.ts [--out DIR] [--check] [--nvcc PATH]
 * ```
 *
 * `--out DIR` builds into DIR (default: the cache folder), `--check` compiles object files only.
 * With $ATTNZOO_LIB_DIR set (and no `--out`) nothing is built: the prebuilt libraries there are
 * used. For a package imported from JSR the command first downloads the kernel sources
 * ({@linkcode fetchKernels}); after that {@linkcode ensureKernels} builds from the download.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import { ConfigError, DeviceUnavailableError } from "../core/errors.ts";
import type { PluginManifest } from "../core/plugin.ts";
import { buildLibrary, buildObjects, type BuildResult } from "./_build/compile.ts";
import { cacheDir, cacheRoot, prebuiltDir, resolvePrebuilt } from "./_build/locations.ts";
import { findNvcc, type Nvcc } from "./_build/nvcc.ts";
import { listRemoteCudaSources, localPath, mirrorSources, requireLocal } from "./_build/remote.ts";
import { listCudaSources } from "./_build/sources.ts";

/** The part of a plugin manifest the build reads. */
export type KernelPlugin = Pick<PluginManifest, "name" | "baseUrl"> & { kernels: { sources: readonly string[] } };

/** Options of {@linkcode ensureKernels} and {@linkcode checkKernels}. */
export interface KernelBuildOptions {
  /** Folder URL of the shared runtime's sources; default: this module's folder. */
  kernelsUrl?: string;
  /** Plugins whose kernels to build (manifests); plugins without sources are skipped. */
  plugins?: readonly KernelPlugin[];
  /** Output folder; default: `<cacheRoot>/<hash of the kernels folder>`. */
  outDir?: string;
  /** Cache folder for builds and downloaded sources; default `$XDG_CACHE_HOME/attnzoo` (or `~/.cache/attnzoo`). */
  cacheRoot?: string;
  /** Folder of prebuilt libraries, where nothing is built; default $ATTNZOO_LIB_DIR unless `outDir` is given. */
  libDir?: string;
  /** nvcc to run; default $ATTNZOO_NVCC, then `nvcc` on PATH, $CUDA_HOME/bin, /usr/local/cuda/bin. */
  nvcc?: string;
  /** Receives one line per object and library: "built PATH" or "up to date PATH". */
  log?: (line: string) => void;
}

/** Paths of the kernel libraries. */
export interface KernelLibraries {
  /** `libattnzoo_runtime.so`. */
  runtime: string;
  /** `libattnzoo_<plugin>.so` by plugin name, for plugins that have kernels. */
  plugins: Record<string, string>;
}

const RUNTIME = "runtime";

// Marks a mirrored runtime folder as completely downloaded (its listing is then the real one).
const MIRROR_COMPLETE = ".complete";

function kernelsUrl(options: KernelBuildOptions): string {
  return options.kernelsUrl ?? new URL(".", import.meta.url).href;
}

function cacheFolder(options: KernelBuildOptions): string {
  return options.cacheRoot ?? cacheRoot();
}

/** The local folder of the runtime's sources (its mirror when remote), checked to be complete. */
function kernelsDir(options: KernelBuildOptions): string {
  const url = kernelsUrl(options);
  const dir = localPath(url, cacheFolder(options));
  if (!url.startsWith("file:")) requireLocal([join(dir, MIRROR_COMPLETE)], `the runtime kernel sources at ${url}`);
  return dir;
}

/** The plugins that have kernels, after checking that their names can name a library. */
function kernelPlugins(plugins: readonly KernelPlugin[]): KernelPlugin[] {
  const withKernels = plugins.filter((plugin) => plugin.kernels.sources.length > 0);
  for (const { name } of withKernels) {
    if (!/^[a-z][a-z0-9-]*$/.test(name) || name === RUNTIME) {
      throw new ConfigError(`plugin manifest "${name}"`, "name", `"${name}" cannot name a kernel library`);
    }
  }
  return withKernels;
}

/** Local source paths of each plugin that has kernels (mirrors for remote plugins), checked to exist. */
function pluginSources(options: KernelBuildOptions): Map<string, string[]> {
  return new Map(
    kernelPlugins(options.plugins ?? []).map((plugin) => {
      const paths = plugin.kernels.sources.map((path) =>
        localPath(new URL(path, plugin.baseUrl).href, cacheFolder(options))
      );
      requireLocal(paths, `the kernel sources of plugin "${plugin.name}"`);
      return [plugin.name, paths];
    }),
  );
}

/**
 * Downloads the kernel sources that are not local files (a package imported from JSR) into the
 * mirror that {@linkcode ensureKernels} reads; does nothing for local installs.
 */
export async function fetchKernels(options: KernelBuildOptions = {}): Promise<void> {
  const url = kernelsUrl(options);
  const runtime = url.startsWith("file:") ? [] : await listRemoteCudaSources(url);
  const plugins = (options.plugins ?? []).flatMap((plugin) =>
    plugin.kernels.sources.map((path) => new URL(path, plugin.baseUrl).href)
  ).filter((source) => !source.startsWith("file:"));
  await mirrorSources([...runtime, ...plugins], [url], cacheFolder(options));
  if (runtime.length > 0) writeFileSync(join(localPath(url, cacheFolder(options)), MIRROR_COMPLETE), "");
}

/** Logs each object, then the library: "built PATH" or "up to date PATH". */
function report(log: KernelBuildOptions["log"], build: { library?: BuildResult; objects: BuildResult[] }): void {
  for (const result of [...build.objects, ...(build.library ? [build.library] : [])]) {
    log?.(`${result.built ? "built" : "up to date"} ${result.path}`);
  }
}

function prepare(options: KernelBuildOptions): { nvcc: Nvcc; dir: string; outDir: string; runtime: string[] } {
  const dir = kernelsDir(options);
  const runtime = listCudaSources(dir);
  if (runtime.length === 0) throw new DeviceUnavailableError("cuda", `no runtime kernel sources (*.cu) in ${dir}`);
  const nvcc = findNvcc(options.nvcc);
  const outDir = resolve(options.outDir ?? cacheDir(cacheFolder(options), dir));
  mkdirSync(outDir, { recursive: true });
  return { nvcc, dir, outDir, runtime };
}

/**
 * Returns the kernel libraries, building those whose sources, headers, flags or nvcc changed.
 * With a prebuilt folder (`libDir`, or $ATTNZOO_LIB_DIR when no `outDir` is given) only resolves
 * paths there. Throws
 * DeviceUnavailableError("cuda") when nvcc is missing or too old (saying what to install), when a
 * build fails (with nvcc's diagnostics), or when a prebuilt library is missing.
 */
export function ensureKernels(options: KernelBuildOptions = {}): KernelLibraries {
  const prebuilt = options.libDir ?? (options.outDir === undefined ? prebuiltDir() : undefined);
  if (prebuilt !== undefined) {
    const names = kernelPlugins(options.plugins ?? []).map((plugin) => plugin.name);
    const paths = resolvePrebuilt(prebuilt, [RUNTIME, ...names]);
    return { runtime: paths.get(RUNTIME)!, plugins: Object.fromEntries(names.map((name) => [name, paths.get(name)!])) };
  }
  const plugins = pluginSources(options);
  const { nvcc, dir, outDir, runtime: runtimeSources } = prepare(options);
  const runtime = buildLibrary(nvcc, RUNTIME, runtimeSources, outDir, [dir], []);
  report(options.log, runtime);
  const built: Record<string, string> = {};
  for (const [name, sources] of plugins) {
    const plugin = buildLibrary(nvcc, name, sources, outDir, [dir], [{ name: RUNTIME, build: runtime.library }]);
    report(options.log, plugin);
    built[name] = plugin.library.path;
  }
  return { runtime: runtime.library.path, plugins: built };
}

/**
 * Compiles every kernel source to an object file under `<outDir>/obj/<library>/` without linking:
 * the CI check that all kernels compile warning-free. A later build into the same `outDir` reuses
 * these objects. Returns the object paths.
 */
export function checkKernels(options: KernelBuildOptions = {}): string[] {
  const plugins = pluginSources(options);
  const { nvcc, dir, outDir, runtime } = prepare(options);
  const objects = [[RUNTIME, runtime] as const, ...plugins].flatMap(([name, sources]) =>
    buildObjects(nvcc, sources, join(outDir, "obj", name), [dir]).objects
  );
  report(options.log, { objects });
  return objects.map((object) => object.path);
}

const USAGE = "usage: kernels/build.ts [--out DIR] [--check] [--nvcc PATH]";

/** Command-line options, or a usage error. */
function parseArgs(args: readonly string[]): { out?: string; check: boolean; nvcc?: string } | string {
  const parsed: { out?: string; check: boolean; nvcc?: string } = { check: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--check") parsed.check = true;
    else if ((arg === "--out" || arg === "--nvcc") && i + 1 < args.length) {
      parsed[arg === "--out" ? "out" : "nvcc"] = args[++i];
    } else return arg === "--help" || arg === "-h" ? USAGE : `unknown argument "${arg}"\n${USAGE}`;
  }
  return parsed;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === "string") {
    console.error(args);
    return args === USAGE ? 0 : 2;
  }
  // The registry lists the plugins that mod.ts registers; their manifests name their sources.
  const zoo = await import("../mod.ts");
  const plugins = zoo.listPlugins().map((summary) => zoo.getPlugin(summary.name));
  const options: KernelBuildOptions = { plugins, outDir: args.out, nvcc: args.nvcc, log: (line) => console.log(line) };
  try {
    await fetchKernels(options);
    if (args.check) checkKernels(options);
    else {
      const libraries = ensureKernels(options);
      console.log(`runtime: ${libraries.runtime}`);
      for (const [name, path] of Object.entries(libraries.plugins)) console.log(`${name}: ${path}`);
    }
    return 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
}

// Not awaited at top level: if the CUDA backend imports this module, mod.ts (imported by main)
// must find it fully evaluated, or the import cycle would never settle.
if (import.meta.main) main().then((code) => process.exitCode = code);
