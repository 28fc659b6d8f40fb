// Kernel sources of a package loaded from a registry (a JSR import: https URLs, no folder to
// list). The command-line build downloads them once into a local mirror that keeps their layout,
// so relative #includes still resolve; the synchronous build then reads the mirror. JSR versions
// are immutable, so a mirrored file never goes stale.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DeviceUnavailableError } from "../../core/errors.ts";

const QUOTED_INCLUDE = /^\s*#\s*include\s*"([^"]+)"/gm;
// https://jsr.io/@scope/name/1.2.3/<path>: the version root lists its files in <root>_meta.json.
const JSR_FILE = /^(https?:\/\/[^/]+\/@[^/]+\/[^/]+\/[^/]+)\/(.*)$/;

/**
 * The local path of a folder or file URL: itself for file: URLs, otherwise its mirror under
 * `<cacheRoot>/sources/<host>/<path>`.
 */
export function localPath(url: string, cacheRoot: string): string {
  if (url.startsWith("file:")) return resolve(fileURLToPath(url));
  const { host, pathname } = new URL(url);
  return resolve(cacheRoot, "sources", host, `.${decodeURIComponent(pathname)}`);
}

/** Throws DeviceUnavailableError("cuda") unless every file of `paths` exists (mirrors included). */
export function requireLocal(paths: readonly string[], what: string): void {
  const missing = paths.filter((path) => !existsSync(path));
  if (missing.length === 0) return;
  throw new DeviceUnavailableError(
    "cuda",
    `${what} are not downloaded (missing ${missing.join(", ")}): run kernels/build.ts from the package once ` +
      "(e.g. `deno run -A jsr:@attnzoo/zoo/build-kernels`), which fetches and builds them, or set ATTNZOO_LIB_DIR",
  );
}

async function download(url: string): Promise<string | undefined> {
  const response = await fetch(url);
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok) {
    throw new DeviceUnavailableError("cuda", `cannot download kernel source ${url}: HTTP ${response.status}`);
  }
  return await response.text();
}

/** The `.cu` files directly in the remote folder `folderUrl`, from its JSR version manifest. */
export async function listRemoteCudaSources(folderUrl: string): Promise<string[]> {
  const match = JSR_FILE.exec(folderUrl);
  const meta = match === null ? undefined : await download(`${match[1]}_meta.json`);
  if (match === null || meta === undefined) {
    throw new DeviceUnavailableError(
      "cuda",
      `cannot list kernel sources at ${folderUrl} (not a JSR package version); set ATTNZOO_LIB_DIR`,
    );
  }
  const folder = `/${match[2]}`;
  return Object.keys((JSON.parse(meta) as { manifest: Record<string, unknown> }).manifest)
    .filter((path) => path.startsWith(folder) && path.endsWith(".cu") && !path.slice(folder.length).includes("/"))
    .sort()
    .map((path) => `${match[1]}${path}`);
}

/**
 * Downloads `sources` and the headers they include (each `#include "x"` tried next to the
 * including file, then in `includeUrls`; absent everywhere means a system header) into the mirror
 * under `cacheRoot`.
 */
export async function mirrorSources(
  sources: readonly string[],
  includeUrls: readonly string[],
  cacheRoot: string,
): Promise<void> {
  const found = new Map<string, boolean>();
  const fetchInto = async (url: string): Promise<boolean> => {
    const known = found.get(url);
    if (known !== undefined) return known;
    const text = await download(url);
    found.set(url, text !== undefined);
    if (text === undefined) return false;
    const path = localPath(url, cacheRoot);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    for (const [, name] of text.matchAll(QUOTED_INCLUDE)) {
      for (const base of [url, ...includeUrls]) {
        if (await fetchInto(new URL(name, base).href)) break;
      }
    }
    return true;
  };
  for (const source of sources) {
    if (!(await fetchInto(source))) throw new DeviceUnavailableError("cuda", `kernel source ${source} does not exist`);
  }
}
