// kernels/build.ts with a fake nvcc: source discovery through manifests and #include scanning,
// fingerprints, rebuilding only what changed, prebuilt folders, and every failure it reports.
// The last test compiles and loads a trivial .cu with the real nvcc when there is one.
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ConfigError, DeviceUnavailableError } from "../../core/errors.ts";
import { openLibrary } from "../../core/ffi/mod.ts";
import { checkKernels, ensureKernels, fetchKernels, type KernelPlugin } from "../../kernels/build.ts";
import { buildLibrary } from "../../kernels/_build/compile.ts";
import { fingerprint } from "../../kernels/_build/fingerprint.ts";
import { cacheDir, cacheRoot } from "../../kernels/_build/locations.ts";
import { findNvcc, type Nvcc } from "../../kernels/_build/nvcc.ts";
import { listCudaSources, readLibrarySources } from "../../kernels/_build/sources.ts";
import { isBun, test } from "../_harness.ts";
import { assert, assertEquals } from "../_assert.ts";
import { writeFakeNvcc } from "./_fake_nvcc.ts";

const KERNELS_DIR = fileURLToPath(new URL("../../kernels/", import.meta.url)).replace(/\/$/, "");
const BUILD_SCRIPT = join(KERNELS_DIR, "build.ts");

function scratch(): string {
  return mkdtempSync(join(tmpdir(), "attnzoo-build-"));
}

function write(path: string, text: string): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** Runs `fn` with environment variables set (undefined: removed), restoring them afterwards. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(vars);
  try {
    return fn();
  } finally {
    apply(saved);
  }
}

/** A plugin folder with kernels/demo.cu including a local header, as a manifest sees it. */
function demoPlugin(root: string, name = "demo", body = "__global__ void k() {}"): KernelPlugin {
  const dir = join(root, name);
  write(join(dir, "kernels", "_demo.h"), "#pragma once\n#include <cuda_runtime.h>\n");
  write(join(dir, "kernels", "demo.cu"), `#include "_demo.h"\n#include "_runtime.h"\n${body}\n`);
  return { name, baseUrl: pathToFileURL(dir + "/").href, kernels: { sources: ["kernels/demo.cu"] } };
}

/** The error of type `type` that `fn` throws; anything else (or nothing) fails the test. */
function errorOf<E extends Error>(fn: () => unknown, type: new (...args: never[]) => E): E {
  try {
    fn();
  } catch (error) {
    if (error instanceof type) return error;
    throw new Error(`expected ${type.name}, got ${error}`);
  }
  throw new Error(`expected ${type.name}, nothing was thrown`);
}

test("build: sources pull in local headers transitively, from the file's folder and include dirs", () => {
  const root = scratch();
  write(join(root, "inc", "_shared.h"), '#include "nested/_deep.h"\n');
  write(join(root, "inc", "nested", "_deep.h"), "#include <cublasLt.h>\n");
  write(join(root, "src", "_local.h"), '#include "_local.h"\n'); // self-include must not loop
  const source = write(
    join(root, "src", "a.cu"),
    '#include "_local.h"\n#include "_shared.h"\n#include "not_here.h"\n#include <cuda_runtime.h>\n',
  );
  const files = readLibrarySources([source], [join(root, "inc")]);
  assertEquals(files.sources.map((f) => f.path), [source]);
  assertEquals(files.headers.map((f) => f.path.slice(root.length)), [
    "/inc/_shared.h",
    "/inc/nested/_deep.h",
    "/src/_local.h",
  ]);
  assert(files.usesCublas, "a cuBLAS include two levels down is found");
  assert(!readLibrarySources([join(root, "src", "_local.h")], []).usesCublas, "no cuBLAS include");
  write(join(root, "src", "b.cu"), "");
  write(join(root, "src", "notes.txt"), "");
  assertEquals(listCudaSources(join(root, "src")).map((p) => p.slice(root.length)), ["/src/a.cu", "/src/b.cu"]);
});

test("build: the fingerprint changes with every input and only with them", () => {
  const base = {
    compiler: "release 12.8",
    args: ["-O3", "a.cu"],
    files: [{ path: "/a.cu", text: "x" }],
    dependencies: ["d1"],
  };
  const print = fingerprint(base);
  assertEquals(print, fingerprint(structuredClone(base)));
  assert(/^[0-9a-f]{64}$/.test(print), print);
  const variants = [
    { ...base, compiler: "release 12.9" },
    { ...base, args: ["-O2", "a.cu"] },
    { ...base, args: ["-O3a", ".cu"] }, // same characters, different split
    { ...base, files: [{ path: "/a.cu", text: "y" }] },
    { ...base, files: [{ path: "/b.cu", text: "x" }] },
    { ...base, dependencies: ["d2"] },
  ];
  for (const variant of variants) assert(fingerprint(variant) !== print, JSON.stringify(variant));
});

/** The .cu files in an nvcc argument list. */
function cuFiles(args: readonly string[]): string[] {
  return args.filter((arg) => arg.endsWith(".cu"));
}

/** Every file under `dir`, recursively. */
function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" });
}

test("build: ensureKernels compiles every source with the required flags and links each library", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const out = join(root, "out");
  const plugins = [
    demoPlugin(root),
    demoPlugin(root, "blas", "#include <cublas_v2.h>"),
    { name: "cpu-only", baseUrl: pathToFileURL(root + "/").href, kernels: { sources: [] } },
  ];
  const lines: string[] = [];
  const libs = ensureKernels({ plugins, outDir: out, nvcc: fake.command, log: (l) => lines.push(l) });
  assertEquals(libs, {
    runtime: join(out, "libattnzoo_runtime.so"),
    plugins: { demo: join(out, "libattnzoo_demo.so"), blas: join(out, "libattnzoo_blas.so") },
  });
  const runtimeSources = listCudaSources(KERNELS_DIR);
  assertEquals(lines.filter((l) => l.endsWith(".so")), [
    `built ${libs.runtime}`,
    `built ${libs.plugins.demo}`,
    `built ${libs.plugins.blas}`,
  ]);
  assertEquals(lines.length, runtimeSources.length + 2 + 3, "one line per object and per library");
  const compiles = fake.runs().filter((args) => args.includes("-c"));
  const links = fake.runs().filter((args) => args.includes("-shared"));
  assertEquals(compiles.length + links.length, fake.runs().length, "every run compiles or links");
  assertEquals(
    compiles.flatMap(cuFiles).sort(),
    [...runtimeSources, join(root, "demo", "kernels", "demo.cu"), join(root, "blas", "kernels", "demo.cu")].sort(),
    "each kernels/*.cu and each plugin source (resolved against baseUrl) compiles once, alone",
  );
  for (const args of compiles) {
    assertEquals(cuFiles(args).length, 1);
    for (const flag of ["-O3", "-std=c++17", "-fPIC,-Wall,-Werror", `-I${KERNELS_DIR}`]) {
      assert(args.includes(flag), `${flag} missing from ${args.join(" ")}`);
    }
    assertEquals(args[args.indexOf("-Xcompiler") + 1], "-fPIC,-Wall,-Werror");
    assertEquals(args[args.indexOf("-Werror") + 1], "all-warnings");
    assert(
      args.includes("-gencode=arch=compute_90a,code=sm_90a") && args.includes("-gencode=arch=compute_80,code=sm_80"),
    );
  }
  const link = (name: string) => links.find((args) => args.includes(`-soname,libattnzoo_${name}.so`))!;
  assertEquals(
    link("runtime").filter((a) => a.endsWith(".o")),
    runtimeSources.map((p) => join(out, "obj", "runtime", p.slice(KERNELS_DIR.length + 1, -3) + ".o")),
  );
  assert(!link("runtime").includes("-lattnzoo_runtime"), "the runtime does not link itself");
  for (const name of ["demo", "blas"]) {
    const args = link(name);
    assert(
      args.includes("-lattnzoo_runtime") && args.includes("-rpath,$ORIGIN") && args.includes(out),
      "links the runtime",
    );
    assertEquals(args.filter((a) => a.endsWith(".o")), [join(out, "obj", name, "demo.o")]);
  }
  assert(!link("demo").includes("-lcublas"), "no cuBLAS without a cuBLAS include");
  assert(link("blas").includes("-lcublasLt") && link("blas").includes("-lcublas"), "cuBLAS when included");
  assert(readFileSync(libs.plugins.demo, "utf8").includes("-soname,libattnzoo_demo.so"), "output written by nvcc");
  assertEquals(allFiles(out).filter((f) => f.endsWith(".tmp")), [], "no temporary files left");
});

test("build: rebuilds only what changed (a source, a header, the nvcc version, nvcc's flag variables)", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const out = join(root, "out");
  const other = demoPlugin(root, "other");
  write(join(root, "other", "kernels", "extra.cu"), "__global__ void extra() {}\n");
  const plugins = [demoPlugin(root), { ...other, kernels: { sources: ["kernels/demo.cu", "kernels/extra.cu"] } }];
  const runtimeCount = listCudaSources(KERNELS_DIR).length;
  const run = (nvcc = fake.command) => {
    const lines: string[] = [];
    ensureKernels({ plugins, outDir: out, nvcc, log: (l) => lines.push(l) });
    return lines.filter((l) => l.startsWith("built")).map((l) => l.slice(`built ${out}/`.length));
  };
  assertEquals(run().length, runtimeCount + 3 + 3);
  assertEquals(run(), [], "an up-to-date build builds nothing");
  const runsAfterFirst = fake.runs().length;
  assertEquals(runsAfterFirst, runtimeCount + 3 + 3, "and runs no compile or link");
  write(join(root, "demo", "kernels", "_demo.h"), "#pragma once // edited\n");
  assertEquals(run(), ["obj/demo/demo.o", "libattnzoo_demo.so"]);
  write(join(root, "other", "kernels", "extra.cu"), "__global__ void extra2() {}\n");
  assertEquals(run(), ["obj/other/extra.o", "libattnzoo_other.so"], "only the edited source recompiles");
  assertEquals(fake.runs().length, runsAfterFirst + 4);
  const stamp = readFileSync(join(out, "libattnzoo_other.so.sha256"), "utf8").trim();
  assert(/^[0-9a-f]{64}$/.test(stamp), `stamp ${stamp}`);
  const newer = writeFakeNvcc(root, "12.9", "nvcc129");
  assertEquals(run(newer.command).length, runtimeCount + 3 + 3, "a new nvcc rebuilds everything");
  assertEquals(withEnv({ NVCC_APPEND_FLAGS: "-DEXTRA" }, () => run(newer.command)).length, runtimeCount + 3 + 3);
});

test("build: ATTNZOO_NVCC names the compiler", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const libs = withEnv({ ATTNZOO_NVCC: fake.command }, () => ensureKernels({ outDir: root }));
  assertEquals(libs.runtime, join(root, "libattnzoo_runtime.so"));
  assertEquals(fake.runs().length, listCudaSources(KERNELS_DIR).length + 1, "its compiles and the link");
});

test("build: a prebuilt folder is resolved without compiling, and missing files are named", () => {
  const root = scratch();
  write(join(root, "libattnzoo_runtime.so"), "");
  write(join(root, "libattnzoo_demo.so"), "");
  const plugins = [demoPlugin(root), demoPlugin(root, "absent")];
  const env = { ATTNZOO_LIB_DIR: root, ATTNZOO_NVCC: "/nonexistent/nvcc" };
  assertEquals(withEnv(env, () => ensureKernels({ plugins: plugins.slice(0, 1) })), {
    runtime: join(root, "libattnzoo_runtime.so"),
    plugins: { demo: join(root, "libattnzoo_demo.so") },
  });
  const error = errorOf(() => withEnv(env, () => ensureKernels({ plugins })), DeviceUnavailableError);
  const fake = writeFakeNvcc(root);
  const explicitOut = withEnv(env, () => ensureKernels({ plugins, outDir: join(root, "out"), nvcc: fake.command }));
  assertEquals(explicitOut.runtime, join(root, "out", "libattnzoo_runtime.so"), "an explicit outDir builds");
  assertEquals(
    withEnv(env, () => ensureKernels({ libDir: root, outDir: join(root, "out") })).runtime,
    join(root, "libattnzoo_runtime.so"),
    "an explicit libDir wins",
  );
  assertEquals(error.device, "cuda");
  assert(
    error.message.includes(join(root, "libattnzoo_absent.so")) && !error.message.includes("demo.so"),
    error.message,
  );
});

test("build: no nvcc, an old nvcc, and a failing compile are clear DeviceUnavailableErrors", () => {
  const root = scratch();
  const missing = errorOf(
    () => ensureKernels({ outDir: root, nvcc: "/nonexistent/nvcc" }),
    DeviceUnavailableError,
  );
  for (const part of ["nvcc not found", "/nonexistent/nvcc", "CUDA toolkit >= 12.4", "ATTNZOO_LIB_DIR"]) {
    assert(missing.message.includes(part), `"${part}" missing from: ${missing.message}`);
  }
  const old = writeFakeNvcc(root, "12.2", "nvcc122");
  const tooOld = errorOf(
    () => ensureKernels({ outDir: root, nvcc: old.command }),
    DeviceUnavailableError,
  );
  assert(tooOld.message.includes("CUDA 12.2") && tooOld.message.includes(">= 12.4"), tooOld.message);
  const fake = writeFakeNvcc(root);
  const out = join(root, "out");
  const broken = demoPlugin(root, "broken", "FAIL_ME");
  const failed = errorOf(
    () => ensureKernels({ plugins: [broken], outDir: out, nvcc: fake.command }),
    DeviceUnavailableError,
  );
  assert(failed.message.includes("nvcc failed to compile:"), failed.message);
  assert(failed.message.includes(join(root, "broken", "kernels", "demo.cu")), "names the failing command");
  assert(failed.message.includes("demo.cu(1): error: fake failure"), "nvcc's diagnostics are included");
  assert(!existsSync(join(out, "libattnzoo_broken.so")), "no library after a failed build");
  assert(!existsSync(join(out, "obj", "broken", "demo.o")), "no object after a failed compile");
  assertEquals(allFiles(out).filter((f) => f.endsWith(".tmp")), [], "no temporary files left");
});

test("build: manifests that cannot name a library, or whose remote sources are not downloaded, are rejected", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const clash = { ...demoPlugin(root), name: "runtime" };
  const error = errorOf(
    () => ensureKernels({ plugins: [clash], outDir: root, nvcc: fake.command }),
    ConfigError,
  );
  assertEquals([error.source, error.field], ['plugin manifest "runtime"', "name"]);
  const remote = { ...demoPlugin(root), baseUrl: "https://jsr.io/@attnzoo/zoo/0.1.0/plugins/demo/" };
  const notDownloaded = errorOf(
    () => ensureKernels({ plugins: [remote], outDir: root, nvcc: fake.command, cacheRoot: join(root, "cache") }),
    DeviceUnavailableError,
  );
  const mirrored = join(root, "cache", "sources", "jsr.io", "@attnzoo", "zoo", "0.1.0", "plugins", "demo");
  for (const part of ["not downloaded", join(mirrored, "kernels", "demo.cu"), "build-kernels", "ATTNZOO_LIB_DIR"]) {
    assert(notDownloaded.message.includes(part), `"${part}" missing from: ${notDownloaded.message}`);
  }
  assertEquals(fake.runs().length, 0, "nothing is compiled for a rejected manifest");
});

/** Serves `files` (URL path → text) on 127.0.0.1 and returns the server's origin; 404 otherwise. */
async function serve(files: Record<string, string>): Promise<{ origin: string; requests: string[]; close(): void }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? "");
    const body = files[request.url ?? ""];
    response.writeHead(body === undefined ? 404 : 200).end(body ?? "not found");
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, requests, close: () => server.close() };
}

test("build: sources of a package imported from JSR are mirrored (with their headers), then built", async () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const version = "/@attnzoo/zoo/0.1.0";
  const files: Record<string, string> = {
    [`${version}/kernels/a.cu`]: '#include "_runtime.h"\n#include <cuda_runtime.h>\n',
    [`${version}/kernels/b.cu`]: '#include "_runtime.h"\n#include "absent.h"\n',
    [`${version}/kernels/_runtime.h`]: '#include "_nested.h"\n',
    [`${version}/kernels/_nested.h`]: "#pragma once\n",
    [`${version}/plugins/demo/kernels/demo.cu`]: '#include "_demo.h"\n#include "_runtime.h"\n',
    [`${version}/plugins/demo/kernels/_demo.h`]: "#pragma once\n",
  };
  const manifest = Object.fromEntries(
    [...Object.keys(files), `${version}/kernels/sub/c.cu`, `${version}/mod.ts`].map((path) => [
      path.slice(version.length),
      { size: 1, checksum: "sha256-0" },
    ]),
  );
  files[`${version}_meta.json`] = JSON.stringify({ manifest });
  const server = await serve(files);
  try {
    const kernelsUrl = `${server.origin}${version}/kernels/`;
    const plugins = [{
      name: "demo",
      baseUrl: `${server.origin}${version}/plugins/demo/`,
      kernels: { sources: ["kernels/demo.cu"] },
    }];
    const options = {
      kernelsUrl,
      plugins,
      outDir: join(root, "out"),
      nvcc: fake.command,
      cacheRoot: join(root, "cache"),
    };
    const before = errorOf(() => ensureKernels(options), DeviceUnavailableError);
    assert(before.message.includes("not downloaded"), before.message);
    const withoutPlugins = errorOf(() => ensureKernels({ ...options, plugins: [] }), DeviceUnavailableError);
    assert(withoutPlugins.message.includes(`the runtime kernel sources at ${kernelsUrl}`), withoutPlugins.message);
    await fetchKernels(options);
    const mirror = join(
      root,
      "cache",
      "sources",
      `127.0.0.1:${server.origin.split(":").pop()}`,
      "@attnzoo",
      "zoo",
      "0.1.0",
    );
    assertEquals(
      allFiles(mirror).filter((f) => !f.endsWith("/") && /\.(cu|h)$/.test(f)).sort(),
      Object.keys(files).filter((f) => /\.(cu|h)$/.test(f)).map((f) => f.slice(version.length + 1)).sort(),
      "every source and included header, and nothing else, is mirrored",
    );
    assertEquals(
      server.requests.filter((r) => r === `${version}/kernels/_runtime.h`).length,
      1,
      "each header is fetched once",
    );
    assert(server.requests.includes(`${version}/kernels/absent.h`), "an include found nowhere is left to nvcc");
    const libs = ensureKernels(options);
    assertEquals(libs.runtime, join(root, "out", "libattnzoo_runtime.so"));
    assertEquals(
      fake.runs().flatMap(cuFiles).sort(),
      [
        join(mirror, "kernels", "a.cu"),
        join(mirror, "kernels", "b.cu"),
        join(mirror, "plugins", "demo", "kernels", "demo.cu"),
      ],
      "the runtime is the version's kernels/*.cu (not sub folders), built from the mirror",
    );
  } finally {
    server.close();
  }
});

test("build: checkKernels compiles every source without linking; a later build reuses the objects", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const out = join(root, "out");
  const plugins = [demoPlugin(root)];
  const objects = checkKernels({ plugins, outDir: out, nvcc: fake.command });
  const runtimeSources = listCudaSources(KERNELS_DIR);
  const runtimeObjects = runtimeSources.map((p) =>
    join(out, "obj", "runtime", p.slice(KERNELS_DIR.length + 1, -3) + ".o")
  );
  assertEquals(objects, [...runtimeObjects, join(out, "obj", "demo", "demo.o")]);
  assertEquals(fake.runs().length, runtimeSources.length + 1);
  for (const args of fake.runs()) {
    assert(args.includes("-c") && !args.includes("-shared") && cuFiles(args).length === 1, args.join(" "));
  }
  ensureKernels({ plugins, outDir: out, nvcc: fake.command });
  assertEquals(fake.runs().length, runtimeSources.length + 1 + 2, "only the two links run");
});

test("build: the cache lives under XDG_CACHE_HOME, one build folder per kernels folder", () => {
  assertEquals(withEnv({ XDG_CACHE_HOME: "/cache" }, cacheRoot), "/cache/attnzoo");
  const a = cacheDir("/cache/attnzoo", "/checkout/a/kernels");
  assert(/^\/cache\/attnzoo\/[0-9a-f]{16}$/.test(a), a);
  assert(a !== cacheDir("/cache/attnzoo", "/checkout/b/kernels"), "distinct checkouts");
});

test("build: the command line builds, reports nvcc's absence with a non-zero exit, and rejects bad flags", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const cli = (...args: string[]) => {
    const argv = isBun ? [BUILD_SCRIPT, ...args] : ["run", "-A", BUILD_SCRIPT, ...args];
    try {
      const stdout = execFileSync(process.execPath, argv, {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ATTNZOO_LIB_DIR: "", NO_COLOR: "1" },
      });
      return { code: 0, output: stdout };
    } catch (error) {
      const { status, stdout, stderr } = error as { status: number; stdout: string; stderr: string };
      return { code: status, output: stdout + stderr };
    }
  };
  const built = cli("--out", join(root, "out"), "--nvcc", fake.command);
  assertEquals(built.code, 0, built.output);
  assert(built.output.includes(`runtime: ${join(root, "out", "libattnzoo_runtime.so")}`), built.output);
  const noNvcc = cli("--out", join(root, "out"), "--nvcc", "/nonexistent/nvcc");
  assertEquals(noNvcc.code, 1, noNvcc.output);
  assert(noNvcc.output.includes("CUDA toolkit >= 12.4"), noNvcc.output);
  const bad = cli("--frobnicate");
  assertEquals(bad.code, 2, bad.output);
  assert(bad.output.includes('unknown argument "--frobnicate"'), bad.output);
});

let realNvcc: Nvcc | string;
try {
  realNvcc = withEnv({ ATTNZOO_NVCC: undefined }, () => findNvcc());
} catch (error) {
  realNvcc = (error as Error).message;
}

if (typeof realNvcc === "string") {
  console.warn(`tests/ffi/build_test.ts: real nvcc test skipped: ${realNvcc}`);
  test("build: real nvcc test skipped (no nvcc)", () => {});
} else {
  const nvcc = realNvcc;
  test("build: the real nvcc builds two .cu files into a library that core/ffi loads and calls", () => {
    const root = scratch();
    const source = write(
      join(root, "trivial.cu"),
      `#include <stdint.h>
__global__ void twice_kernel(float* x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= 2.0f;
}
// Host-only entry point: loading and calling it needs no GPU.
extern "C" __attribute__((visibility("default"))) int32_t trivial_twice(int32_t x) { return 2 * x; }
`,
    );
    const second = write(
      join(root, "second.cu"),
      'extern "C" __attribute__((visibility("default"))) int trivial_negate(int x) { return -x; }\n',
    );
    const result = buildLibrary(nvcc, "trivial", [source, second], root, [], []);
    assert(result.library.built && existsSync(result.library.path), "library built");
    assertEquals(result.objects.map((o) => o.built), [true, true], "both objects compiled");
    const again = buildLibrary(nvcc, "trivial", [source, second], root, [], []);
    assertEquals(
      [again.library.built, ...again.objects.map((o) => o.built)],
      [false, false, false],
      "second build skipped",
    );
    using lib = openLibrary(result.library.path, {
      trivial_twice: { parameters: ["i32"], result: "i32" },
      trivial_negate: { parameters: ["i32"], result: "i32" },
    });
    assertEquals(lib.symbols.trivial_negate(5), -5);
    assertEquals(lib.symbols.trivial_twice(21), 42);
  });
}
