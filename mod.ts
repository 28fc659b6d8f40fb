/**
 * attnzoo: attention mechanisms as plugins — a model zoo for Deno and Bun.
 *
 * @example
 * ```ts
 * import { listPlugins, randn, matmul } from "@attnzoo/zoo";
 * console.log(listPlugins().map((p) => p.name));
 * using a = randn([64, 64], { seed: 1 });
 * using b = matmul(a, a, { transB: true });
 * ```
 *
 * @module
 */
export * from "./core/errors.ts";
export * from "./core/dtype.ts";
export { alibiSlopes } from "./core/alibi.ts";
export {
  arange,
  CpuStorage,
  type Device,
  fmtShape,
  full,
  type HostArray,
  type NestedArray,
  numel,
  ones,
  type Storage,
  Tensor,
  tensor,
  type TensorOptions,
  zeros,
} from "./core/tensor.ts";
export { rand, randn, type RandomOptions, Rng } from "./core/random.ts";
export * from "./core/ops.ts";
export type { Backend, BinaryOp, Conv2dOptions, DeviceRequest, MatmulOptions, UnaryOp } from "./core/backend.ts";
export { resolveDevice } from "./core/backend.ts";
export { cpuParallelJobs, cpuThreads, setCpuThreads, startCpuWorkers } from "./core/backends/cpu/cpu_backend.ts";
export { CudaBackend, type CudaMemoryStats, type LinearOptions } from "./core/backends/cuda/mod.ts";
export { FfiSymbolSchema, FfiTypeSchema, PaperSchema, parseConfig, PluginManifestSchema } from "./core/plugin.ts";
export type {
  FfiSymbol,
  FfiType,
  MixerCost,
  MixerSpec,
  MixerState,
  PluginKernel,
  PluginKernels,
  PluginManifest,
  PluginOps,
  SymbolTable,
  TokenMixer,
} from "./core/plugin.ts";
export {
  type Architecture,
  type BuildContext,
  buildModel,
  type ConfigEnvelope,
  createMixer,
  createModel,
  type CreateModelOptions,
  getPlugin,
  listModels,
  listPlugins,
  type Model,
  modelConfig,
  type ModelCounts,
  type ModelInfo,
  modelInfo,
  type PluginSummary,
  registerArchitecture,
  registerPlugin,
} from "./core/registry.ts";
export * from "./core/io/mod.ts";
export { loadWeights } from "./core/io/weights.ts";
export { decodeJpeg } from "./core/io/jpeg.ts";
export { decodePng, type RgbImage } from "./core/io/png.ts";
export * from "./models/mod.ts";
import "./plugins/mod.ts";
