// Finds (building it when needed), opens and initialises libattnzoo_runtime.so, turning every
// reason it cannot (no driver, no GPU, no nvcc, failed build, missing symbols) into
// DeviceUnavailableError, and wraps its calls so a non-zero status becomes a NativeError naming
// the op and the shapes.
import { existsSync } from "node:fs";
import { ensureKernels } from "../../../kernels/build.ts";
import { DeviceUnavailableError } from "../../errors.ts";
import { check, type NativeArg, type NativeFn, openLibrary } from "../../ffi/mod.ts";
import type { PluginManifest } from "../../plugin.ts";
import { type OpProfiler, profilerFromEnv } from "./_profiler.ts";
import { RUNTIME_SYMBOLS, type RuntimeSymbol } from "./_symbols.ts";

/** Calls a runtime function and throws NativeError(op, status, message (detail)) on failure. */
export type RuntimeCall = (
  name: RuntimeSymbol,
  op: string,
  detail: string | (() => string),
  ...args: NativeArg[]
) => void;

/** The opened runtime: checked calls and the device it runs on. */
export interface Runtime {
  /** Checked call of a runtime function. */
  call: RuntimeCall;
  /** GPU name and compute capability (e.g. 90). */
  device: { name: string; computeCapability: number };
  /** Per-op times, when $ATTNZOO_CUDA_PROFILE is set. */
  profiler?: OpProfiler;
}

const DRIVER_MARKERS = ["/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0"];

/** Opens and initialises the runtime on GPU 0, or throws DeviceUnavailableError saying why not. */
export function openRuntime(): Runtime {
  if (!DRIVER_MARKERS.some((path) => existsSync(path))) {
    throw new DeviceUnavailableError("cuda", "no NVIDIA driver or GPU on this machine (no /dev/nvidiactl)");
  }
  // builds on first use (and after source changes) or resolves $ATTNZOO_LIB_DIR; throws
  // DeviceUnavailableError itself when nvcc is missing or the build fails
  const path = ensureKernels().runtime;
  let symbols: Readonly<Record<RuntimeSymbol, NativeFn>>;
  try {
    symbols = openLibrary(path, RUNTIME_SYMBOLS).symbols;
  } catch (error) {
    throw new DeviceUnavailableError("cuda", (error as Error).message);
  }
  const lastError = symbols.attnzoo_last_error;
  const unprofiled: RuntimeCall = (name, op, detail, ...args) =>
    check(symbols[name](...args) as number, op, detail, lastError);
  const profiler = profilerFromEnv();
  const synchronize = () => unprofiled("attnzoo_synchronize", "synchronize", "");
  const call: RuntimeCall = profiler === undefined ? unprofiled : (name, op, detail, ...args) => {
    profiler.begin();
    unprofiled(name, op, detail, ...args);
    if (name !== "attnzoo_synchronize") profiler.end(op, synchronize);
  };
  try {
    call("attnzoo_init", "init", "GPU 0", 0);
  } catch (error) {
    throw new DeviceUnavailableError("cuda", (error as Error).message);
  }
  const name = new Uint8Array(256);
  const cc = new Int32Array(1);
  call("attnzoo_device_info", "device_info", "", name, name.length, cc);
  const end = name.indexOf(0);
  return {
    call,
    profiler,
    device: { name: new TextDecoder().decode(name.subarray(0, end < 0 ? name.length : end)), computeCapability: cc[0] },
  };
}

/** A plugin's kernel library, opened: its bound functions and a status check naming its message. */
export interface PluginLibrary {
  /** Bound functions from the manifest's symbol table. */
  symbols: Readonly<Record<string, NativeFn>>;
  /** Throws NativeError(op, status, the library's last error) when `status` is not 0. */
  check(status: number, op: string, detail: string | (() => string)): void;
}

/**
 * Builds (or finds prebuilt) and opens `libattnzoo_<plugin>.so`, linked against the runtime. Its
 * symbol table must hold a `*_last_error(char*, int)` export, as the runtime's does.
 */
export function openPluginLibrary(plugin: PluginManifest, runtime: Runtime): PluginLibrary {
  const path = ensureKernels({ plugins: [plugin] }).plugins[plugin.name];
  const lastErrorName = Object.keys(plugin.kernels.symbols).find((name) => name.endsWith("_last_error"));
  if (path === undefined || lastErrorName === undefined) {
    throw new DeviceUnavailableError(
      "cuda",
      `plugin "${plugin.name}" has no kernel library${
        lastErrorName === undefined ? " with a *_last_error export" : ""
      }`,
    );
  }
  const symbols = openLibrary(path, plugin.kernels.symbols).symbols as Readonly<Record<string, NativeFn>>;
  const lastError = symbols[lastErrorName];
  const profiler = runtime.profiler;
  if (profiler === undefined) return { symbols, check: (status, op, detail) => check(status, op, detail, lastError) };
  // the plugin's kernels were launched before its status reaches check: time since the last
  // runtime call's end is theirs
  const synchronize = () => runtime.call("attnzoo_synchronize", "synchronize", "");
  return {
    symbols,
    check: (status, op, detail) => {
      check(status, op, detail, lastError);
      profiler.end(op, synchronize);
    },
  };
}
