// kernels/build.ts with a fake nvcc: source discovery through manifests and #include scanning,
// fingerprints, rebuilding only what changed, prebuilt folders, and every failure it reports.
// The last test compiles and loads a trivial .cu with the real nvcc when there is one.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ConfigError, DeviceUnavailableError } from "../../core/errors.ts";
import { openLibrary } from "../../core/ffi/mod.ts";
import { checkKernels, ensureKernels, type KernelPlugin } from "../../kernels/build.ts";
import { buildLibrary } from "../../kernels/_build/compile.ts";
import { fingerprint } from "../../kernels/_build/fingerprint.ts";
import { cacheDir } from "../../kernels/_build/locations.ts";
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

const NO_PREBUILT = { ATTNZOO_LIB_DIR: undefined, ATTNZOO_NVCC: undefined };

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

test("build: ensureKernels builds the runtime and plugin libraries with the required flags", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const out = join(root, "out");
  const plugins = [
    demoPlugin(root),
    demoPlugin(root, "blas", "#include <cublas_v2.h>"),
    { name: "cpu-only", baseUrl: pathToFileURL(root + "/").href, kernels: { sources: [] } },
  ];
  const lines: string[] = [];
  const libs = withEnv(
    NO_PREBUILT,
    () => ensureKernels({ plugins, outDir: out, nvcc: fake.command, log: (l) => lines.push(l) }),
  );
  assertEquals(libs, {
    runtime: join(out, "libattnzoo_runtime.so"),
    plugins: { demo: join(out, "libattnzoo_demo.so"), blas: join(out, "libattnzoo_blas.so") },
  });
  assertEquals(lines, [`built ${libs.runtime}`, `built ${libs.plugins.demo}`, `built ${libs.plugins.blas}`]);
  const [runtime, demo, blas] = fake.runs();
  for (const args of [runtime, demo, blas]) {
    for (const flag of ["-O3", "-std=c++17", "-shared", "-fPIC,-Wall,-Werror", "all-warnings", `-I${KERNELS_DIR}`]) {
      assert(args.includes(flag), `${flag} missing from ${args.join(" ")}`);
    }
    assert(
      args.includes("-gencode=arch=compute_90a,code=sm_90a") && args.includes("-gencode=arch=compute_80,code=sm_80"),
    );
    assertEquals(args[args.indexOf("-Werror") + 1], "all-warnings");
  }
  assertEquals(
    runtime.filter((a) => a.endsWith(".cu")),
    listCudaSources(KERNELS_DIR),
    "every kernels/*.cu goes into the runtime",
  );
  assert(demo.includes(join(root, "demo", "kernels", "demo.cu")), "plugin source resolved against baseUrl");
  for (const args of [demo, blas]) {
    assert(
      args.includes("-lattnzoo_runtime") && args.includes("-rpath,$ORIGIN") && args.includes(out),
      "links the runtime",
    );
  }
  assert(
    !demo.includes("-lcublas") && blas.includes("-lcublasLt") && blas.includes("-lcublas"),
    "cuBLAS only when included",
  );
  assert(readFileSync(libs.plugins.demo, "utf8").includes("-soname,libattnzoo_demo.so"), "output written by nvcc");
  assertEquals(readdirSync(out).filter((f) => f.endsWith(".tmp")), [], "no temporary files left");
});

test("build: rebuilds only what changed (sources, headers, nvcc version)", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const out = join(root, "out");
  const plugins = [demoPlugin(root), demoPlugin(root, "other")];
  const run = (nvcc = fake.command) => {
    const lines: string[] = [];
    withEnv(NO_PREBUILT, () => ensureKernels({ plugins, outDir: out, nvcc, log: (l) => lines.push(l) }));
    return lines.map((l) => l.replace(out + "/", ""));
  };
  assertEquals(run(), ["built libattnzoo_runtime.so", "built libattnzoo_demo.so", "built libattnzoo_other.so"]);
  assertEquals(run(), [
    "up to date libattnzoo_runtime.so",
    "up to date libattnzoo_demo.so",
    "up to date libattnzoo_other.so",
  ]);
  assertEquals(fake.runs().length, 3, "an up-to-date build runs no compile");
  write(join(root, "demo", "kernels", "_demo.h"), "#pragma once // edited\n");
  assertEquals(run(), [
    "up to date libattnzoo_runtime.so",
    "built libattnzoo_demo.so",
    "up to date libattnzoo_other.so",
  ]);
  write(join(root, "other", "kernels", "demo.cu"), "__global__ void k2() {}\n");
  assertEquals(run(), [
    "up to date libattnzoo_runtime.so",
    "up to date libattnzoo_demo.so",
    "built libattnzoo_other.so",
  ]);
  const stamp = readFileSync(join(out, "libattnzoo_other.so.sha256"), "utf8").trim();
  assert(/^[0-9a-f]{64}$/.test(stamp), `stamp ${stamp}`);
  const newer = writeFakeNvcc(root, "12.9", "nvcc129");
  assertEquals(run(newer.command), [
    "built libattnzoo_runtime.so",
    "built libattnzoo_demo.so",
    "built libattnzoo_other.so",
  ]);
  assertEquals(withEnv({ NVCC_APPEND_FLAGS: "-DEXTRA" }, () => run(newer.command)).length, 3);
  assertEquals(newer.runs().length, 6, "nvcc's own flag variables are part of the fingerprint");
});

test("build: ATTNZOO_NVCC names the compiler", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const libs = withEnv(
    { ATTNZOO_LIB_DIR: undefined, ATTNZOO_NVCC: fake.command },
    () => ensureKernels({ outDir: root }),
  );
  assertEquals(libs.runtime, join(root, "libattnzoo_runtime.so"));
  assertEquals(fake.runs().length, 1);
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
  assertEquals(error.device, "cuda");
  assert(
    error.message.includes(join(root, "libattnzoo_absent.so")) && !error.message.includes("demo.so"),
    error.message,
  );
});

test("build: no nvcc, an old nvcc, and a failing compile are clear DeviceUnavailableErrors", () => {
  const root = scratch();
  const missing = errorOf(
    () => withEnv(NO_PREBUILT, () => ensureKernels({ outDir: root, nvcc: "/nonexistent/nvcc" })),
    DeviceUnavailableError,
  );
  for (const part of ["nvcc not found", "/nonexistent/nvcc", "CUDA toolkit >= 12.4", "ATTNZOO_LIB_DIR"]) {
    assert(missing.message.includes(part), `"${part}" missing from: ${missing.message}`);
  }
  const old = writeFakeNvcc(root, "12.2", "nvcc122");
  const tooOld = errorOf(
    () => withEnv(NO_PREBUILT, () => ensureKernels({ outDir: root, nvcc: old.command })),
    DeviceUnavailableError,
  );
  assert(tooOld.message.includes("CUDA 12.2") && tooOld.message.includes(">= 12.4"), tooOld.message);
  const fake = writeFakeNvcc(root);
  const out = join(root, "out");
  const broken = demoPlugin(root, "broken", "FAIL_ME");
  const failed = errorOf(
    () => withEnv(NO_PREBUILT, () => ensureKernels({ plugins: [broken], outDir: out, nvcc: fake.command })),
    DeviceUnavailableError,
  );
  assert(failed.message.includes("nvcc failed to build libattnzoo_broken.so"), failed.message);
  assert(failed.message.includes("demo.cu(1): error: fake failure"), "nvcc's diagnostics are included");
  assert(!existsSync(join(out, "libattnzoo_broken.so")), "no library after a failed build");
  assertEquals(readdirSync(out).filter((f) => f.endsWith(".tmp")), [], "no temporary files left");
});

test("build: manifests that cannot name a library or are not local are rejected", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const clash = { ...demoPlugin(root), name: "runtime" };
  const error = errorOf(
    () => withEnv(NO_PREBUILT, () => ensureKernels({ plugins: [clash], outDir: root, nvcc: fake.command })),
    ConfigError,
  );
  assertEquals([error.source, error.field], ['plugin manifest "runtime"', "name"]);
  const remote = { ...demoPlugin(root), baseUrl: "https://jsr.io/@attnzoo/zoo/0.1.0/plugins/demo/" };
  const notLocal = errorOf(
    () => withEnv(NO_PREBUILT, () => ensureKernels({ plugins: [remote], outDir: root, nvcc: fake.command })),
    DeviceUnavailableError,
  );
  assert(
    notLocal.message.includes("not local files") && notLocal.message.includes("ATTNZOO_LIB_DIR"),
    notLocal.message,
  );
  assertEquals(fake.runs().length, 0, "nothing is compiled for a rejected manifest");
});

test("build: checkKernels compiles every source to an object without linking", () => {
  const root = scratch();
  const fake = writeFakeNvcc(root);
  const out = join(root, "out");
  const objects = withEnv(
    NO_PREBUILT,
    () => checkKernels({ plugins: [demoPlugin(root)], outDir: out, nvcc: fake.command }),
  );
  const runtimeObjects = listCudaSources(KERNELS_DIR).map((p) =>
    join(out, "obj", "runtime", p.slice(KERNELS_DIR.length + 1, -3) + ".o")
  );
  assertEquals(objects, [...runtimeObjects, join(out, "obj", "demo", "demo.o")]);
  for (const args of fake.runs()) {
    assert(
      args.includes("-c") && !args.includes("-shared") && args.filter((a) => a.endsWith(".cu")).length === 1,
      args.join(" "),
    );
  }
});

test("build: the cache folder is per kernels folder under XDG_CACHE_HOME", () => {
  const a = withEnv({ XDG_CACHE_HOME: "/cache" }, () => cacheDir("/checkout/a/kernels"));
  assert(/^\/cache\/attnzoo\/[0-9a-f]{16}$/.test(a), a);
  assert(a !== withEnv({ XDG_CACHE_HOME: "/cache" }, () => cacheDir("/checkout/b/kernels")), "distinct checkouts");
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
  test("build: the real nvcc builds a trivial .cu that core/ffi loads and calls", () => {
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
    const result = buildLibrary(nvcc, "trivial", [source], root, [], []);
    assert(result.built && existsSync(result.path), "library built");
    assertEquals(buildLibrary(nvcc, "trivial", [source], root, [], []).built, false, "second build is skipped");
    using lib = openLibrary(result.path, { trivial_twice: { parameters: ["i32"], result: "i32" } });
    assertEquals(lib.symbols.trivial_twice(21), 42);
  });
}
