/**
 * The backend interface (one implementation per device) and the registry that picks one.
 * Every op follows PyTorch's semantics; shapes are row-major and contiguous.
 *
 * @module
 */
import { cpuBackend } from "./backends/cpu/cpu_backend.ts";
import type { DType } from "./dtype.ts";
import type { PluginKernels, PluginManifest } from "./plugin.ts";
import { DeviceUnavailableError } from "./errors.ts";
import type { Device, Tensor } from "./tensor.ts";
import { loadCudaBackend } from "./backends/cuda/mod.ts";

/** Elementwise unary functions. */
export type UnaryOp =
  | "exp"
  | "sigmoid"
  | "relu"
  | "tanh"
  | "silu"
  | "neg"
  | "sqrt"
  | "rsqrt"
  | "abs"
  | "log"
  | "cos"
  | "sin";

/** Elementwise binary functions, with NumPy/PyTorch broadcasting. */
export type BinaryOp = "add" | "sub" | "mul" | "div";

/** Options of {@linkcode Backend.matmul}. */
export interface MatmulOptions {
  /** Use Aᵀ (swap A's last two dims). */
  transA?: boolean;
  /** Use Bᵀ (swap B's last two dims). */
  transB?: boolean;
  /** Multiplies the product before its one rounding (attention's 1/√d), saving a pass; default 1. */
  scale?: number;
}

/** Options of {@linkcode Backend.linear}. */
export interface LinearOptions {
  /** Bias [N] added to every row. */
  bias?: Tensor;
  /** Apply GELU in its tanh approximation after the bias (what cuBLASLt's epilogue computes). */
  gelu?: boolean;
}

/** Options of {@linkcode Backend.conv2d}. */
export interface Conv2dOptions {
  /** Stride [sh, sw] or one number; default 1. */
  stride?: number | readonly [number, number];
  /** Zero padding [ph, pw] or one number; default 0. */
  padding?: number | readonly [number, number];
  /** Groups; `groups = C_in = C_out` is a depthwise convolution. Default 1. */
  groups?: number;
}

/**
 * How {@linkcode Backend.sampleTokens} picks each row's token. Tokens are ranked by descending
 * logit (lower index first on ties); greedy takes the first. Sampling keeps the first `topK` of the
 * ranking, weighs them by softmax(logits / temperature), keeps the shortest prefix whose weight
 * reaches `topP` of theirs, and walks it in rank order until the running weight reaches u times
 * the prefix's (u the row's uniform draw).
 */
export interface SampleOptions {
  /** Softmax temperature; 0 (the default) means greedy. */
  temperature?: number;
  /** Keep only the k best tokens (0, the default, keeps all). */
  topK?: number;
  /** Keep the shortest prefix of the ranking whose probability reaches p (1, the default, keeps all). */
  topP?: number;
}

/**
 * The ops a device implements. Inputs are never modified; every op returns new tensors that the
 * caller owns and must dispose. Floating outputs have the dtype of the inputs; CPU math runs in
 * f32 and rounds once at the end, as PyTorch's CPU kernels do for f16/bf16.
 */
export interface Backend {
  /** The device this backend serves. */
  readonly device: Device;
  /** Copies a tensor from another device (or the host) onto this one. */
  fromHost(x: Tensor): Tensor;
  /** A copy with another dtype (rounding to nearest even). */
  cast(x: Tensor, dtype: DType): Tensor;
  /** A contiguous copy. */
  clone(x: Tensor): Tensor;

  /** Batched matrix product `[..., M, K] @ [..., K, N]` with broadcast batch dims. */
  matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Tensor;
  /**
   * `x @ weightᵀ (+ bias) (then GELU-tanh)` with x [..., K] and weight [N, K] (PyTorch's Linear
   * layout): [..., N], the epilogue applied in f32 before the one rounding to the dtype.
   */
  linear(x: Tensor, weight: Tensor, options?: LinearOptions): Tensor;
  /** Elementwise `a op b` with broadcasting. */
  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor;
  /** `x * alpha + beta`. */
  affine(x: Tensor, alpha: number, beta?: number): Tensor;
  /** Elementwise function. */
  unary(op: UnaryOp, x: Tensor): Tensor;
  /** GELU, exact (erf) or tanh approximation. */
  gelu(x: Tensor, approximate?: "none" | "tanh"): Tensor;
  /** softplus(x) = log(1 + exp(βx))/β, linear above `threshold` (PyTorch's defaults 1 and 20). */
  softplus(x: Tensor, beta?: number, threshold?: number): Tensor;
  /** Numerically stable softmax along `dim`. */
  softmax(x: Tensor, dim?: number): Tensor;
  /** Sum along `dim` (keepdim optional). */
  sum(x: Tensor, dim: number, keepdim?: boolean): Tensor;
  /** Mean along `dim` (keepdim optional). */
  mean(x: Tensor, dim: number, keepdim?: boolean): Tensor;

  /** Layer norm over the last dim, optional affine weight and bias. */
  layerNorm(x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps: number): Tensor;
  /** RMS norm over the last dim: x / sqrt(mean(x²) + eps) · weight (no weight: SRMSNorm). */
  rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Tensor;

  /** Rows of `table` [V, D] picked by i32 `ids` [...]: output [..., D]. Out-of-range ids throw. */
  embedding(ids: Tensor, table: Tensor): Tensor;
  /** 2-D convolution, NCHW input, weight [C_out, C_in/groups, kh, kw]. */
  conv2d(x: Tensor, weight: Tensor, bias: Tensor | undefined, options?: Conv2dOptions): Tensor;
  /** Causal depthwise 1-D convolution of [B, C, N] with weight [C, 1, K]: left padding K−1. */
  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined): Tensor;
  /** Adaptive average pooling of [B, C, H, W] to [B, C, oh, ow] with PyTorch's bin edges. */
  adaptiveAvgPool2d(x: Tensor, outputSize: readonly [number, number]): Tensor;
  /** Bilinear resize of [B, C, H, W] to [B, C, oh, ow] (PyTorch's source-index rule). */
  resizeBilinear(x: Tensor, outputSize: readonly [number, number], alignCorners?: boolean): Tensor;

  /** Permutes dimensions into a contiguous copy. */
  permute(x: Tensor, dims: readonly number[]): Tensor;
  /** Concatenates along `dim`. */
  concat(xs: readonly Tensor[], dim: number): Tensor;
  /** `length` entries of `dim` starting at `start`, as a contiguous copy. */
  narrow(x: Tensor, dim: number, start: number, length: number): Tensor;
  /**
   * Writes `src` into entries [start, start + src.shape[dim]) of `dim` of `dst` (same dtype, other
   * dims equal): the one op that modifies a tensor it is given, so a KV cache grows in place.
   */
  writeSlice(dst: Tensor, src: Tensor, dim: number, start: number): void;
  /**
   * One token id per row of logits [B, V] (i32 [B], on this device) as {@linkcode SampleOptions}
   * say, row b drawing with `uniforms[b]` ∈ [0, 1): only the ids need to leave the device.
   */
  sampleTokens(logits: Tensor, options: SampleOptions, uniforms: Float64Array): Tensor;
  /**
   * Rotary position embedding of x [..., N, d] (d even) in Llama's half-rotation layout: the pair
   * (x[i], x[i + d/2]) of token n turns by the angle (offset + n) · theta^(−2i/d), computed in f64.
   */
  rope(x: Tensor, offset: number, theta: number): Tensor;

  /**
   * Opens a plugin's native kernels on this device (built with the runtime), or undefined when
   * the device runs no native code (the CPU) or the plugin declares none.
   */
  pluginKernels?(plugin: PluginManifest): PluginKernels | undefined;
}

const backends = new Map<Device, () => Backend>();
const loaded = new Map<Device, Backend>();
const failed = new Map<Device, DeviceUnavailableError>();

/** Registers the loader of a device's backend (called lazily, once). */
export function registerBackend(device: Device, load: () => Backend): void {
  backends.set(device, load);
  loaded.delete(device);
  failed.delete(device);
}

/** The backend of `device`; throws DeviceUnavailableError when it cannot be loaded. */
export function backendFor(device: Device): Backend {
  const ready = loaded.get(device);
  if (ready !== undefined) return ready;
  const failure = failed.get(device);
  if (failure !== undefined) throw failure;
  const load = backends.get(device);
  if (load === undefined) throw new DeviceUnavailableError(device, "no backend is registered for it");
  try {
    const backend = load();
    loaded.set(device, backend);
    return backend;
  } catch (err) {
    // a device that cannot load now will not load later in this process: every `auto` after
    // the first falls back at once instead of probing drivers and kernels again
    if (err instanceof DeviceUnavailableError) failed.set(device, err);
    throw err;
  }
}

/** Device requests accepted from users: `auto` takes CUDA when it loads, else the CPU. */
export type DeviceRequest = Device | "auto";

/** Resolves `auto` to the best available device; an explicit device must load or throws. */
export function resolveDevice(request: DeviceRequest): Device {
  if (request !== "auto") {
    backendFor(request);
    return request;
  }
  try {
    backendFor("cuda");
    return "cuda";
  } catch (err) {
    if (err instanceof DeviceUnavailableError) return "cpu";
    throw err;
  }
}

registerBackend("cpu", () => cpuBackend);
registerBackend("cuda", loadCudaBackend);
