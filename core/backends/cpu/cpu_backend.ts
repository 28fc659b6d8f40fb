/**
 * The CPU backend in pure TypeScript. Math runs in f32 (accumulating in doubles where cheap) and
 * rounds once to f16/bf16 outputs; large matmuls and convolutions split their rows between the
 * calling thread and a pool of workers over the tensors' SharedArrayBuffers.
 *
 * @module
 */
import type { Backend } from "../../backend.ts";
import { ConfigError } from "../../errors.ts";
import { causalConv1d, conv2d } from "./_conv.ts";
import { affine, binary, gelu, softplus, unary } from "./_elementwise.ts";
import { cast, clone, concat, embedding, fromHost, narrow, permute } from "./_layout.ts";
import { linear } from "./_linear.ts";
import { matmul } from "./_matmul.ts";
import { layerNorm, rmsNorm } from "./_norm.ts";
import { mean, softmax, sum } from "./_reduce.ts";
import { rope } from "./_rope.ts";
import { sampleTokens } from "./_sampling.ts";
import { adaptiveAvgPool2d, resizeBilinear } from "./_spatial.ts";
import { getParallelJobs, getThreads, setThreads, startWorkers } from "./_worker_pool.ts";
import { writeSlice } from "./_write_slice.ts";

/** The backend of device `"cpu"`. */
export const cpuBackend: Backend = {
  device: "cpu",
  fromHost,
  cast,
  clone,
  matmul,
  linear,
  binary,
  affine,
  unary,
  gelu,
  softplus,
  softmax,
  sum,
  mean,
  layerNorm,
  rmsNorm,
  embedding,
  conv2d,
  causalConv1d,
  adaptiveAvgPool2d,
  resizeBilinear,
  permute,
  concat,
  narrow,
  writeSlice,
  sampleTokens,
  rope,
};

/** Threads the CPU backend uses for large products (1 = no workers); `ATTNZOO_CPU_THREADS` sets it. */
export function cpuThreads(): number {
  return getThreads();
}

/** Sets the number of threads for large products, main thread included (integer ≥ 1). */
export function setCpuThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new ConfigError("setCpuThreads", "threads", `expected an integer ≥ 1, got ${n}`);
  }
  setThreads(n);
}

/** How many products so far ran on more than one thread (for tests and benchmarks). */
export function cpuParallelJobs(): number {
  return getParallelJobs();
}

/**
 * Starts the worker pool now instead of at the first large product, and resolves once the workers
 * run, with the number of threads ready (main thread included; 1 when workers are unavailable).
 * Products never wait long for a worker that is still starting, so benchmarks and tests that
 * need the pool await this first.
 */
export function startCpuWorkers(): Promise<number> {
  return startWorkers();
}
