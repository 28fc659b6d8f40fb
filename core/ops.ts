/**
 * Tensor ops, dispatched to the backend of the device the inputs live on. All inputs of one op
 * must share a device; the result lives there too and is owned by the caller.
 *
 * @module
 */
import {
  type Backend,
  backendFor,
  type BinaryOp,
  type Conv2dOptions,
  type LinearOptions,
  type MatmulOptions,
  type SampleOptions,
  type UnaryOp,
} from "./backend.ts";
import type { DType } from "./dtype.ts";
import { ConfigError, DTypeError } from "./errors.ts";
import type { Device, Tensor } from "./tensor.ts";

function on(op: string, ...xs: (Tensor | undefined)[]): Backend {
  let device: Device | undefined;
  for (const x of xs) {
    if (x === undefined) continue;
    const d = x.device; // throws if disposed
    if (device !== undefined && d !== device) {
      throw new DTypeError(op, `inputs live on different devices (${device} and ${d})`);
    }
    device = d;
  }
  return backendFor(device ?? "cpu");
}

/** Moves (copies) a tensor to `device`. */
export function toDevice(x: Tensor, device: Device): Tensor {
  return backendFor(device).fromHost(x);
}

/** A copy of `x` in another dtype. */
export function cast(x: Tensor, dtype: DType): Tensor {
  return on("cast", x).cast(x, dtype);
}

/** A contiguous copy of `x`. */
export function clone(x: Tensor): Tensor {
  return on("clone", x).clone(x);
}

/** Batched matmul `[..., M, K] @ [..., K, N]`, batch dims broadcast; optional transposes. */
export function matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Tensor {
  return on("matmul", a, b).matmul(a, b, options);
}

/** PyTorch's Linear: `x @ weightᵀ (+ bias)` for x [..., K], weight [N, K]; `gelu` adds GELU-tanh. */
export function linear(x: Tensor, weight: Tensor, options?: LinearOptions): Tensor {
  return on("linear", x, weight, options?.bias).linear(x, weight, options);
}

function binary(op: BinaryOp): (a: Tensor, b: Tensor) => Tensor {
  return (a, b) => on(op, a, b).binary(op, a, b);
}

/** Elementwise `a + b` with broadcasting. */
export const add: (a: Tensor, b: Tensor) => Tensor = binary("add");
/** Elementwise `a - b` with broadcasting. */
export const sub: (a: Tensor, b: Tensor) => Tensor = binary("sub");
/** Elementwise `a * b` with broadcasting. */
export const mul: (a: Tensor, b: Tensor) => Tensor = binary("mul");
/** Elementwise `a / b` with broadcasting. */
export const div: (a: Tensor, b: Tensor) => Tensor = binary("div");

/** `x * alpha + beta`. */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  return on("affine", x).affine(x, alpha, beta);
}

/** `x * s`. */
export function scale(x: Tensor, s: number): Tensor {
  return on("scale", x).affine(x, s, 0);
}

function unary(op: UnaryOp): (x: Tensor) => Tensor {
  return (x) => on(op, x).unary(op, x);
}

/** Elementwise exp. */
export const exp: (x: Tensor) => Tensor = unary("exp");
/** Elementwise logistic sigmoid. */
export const sigmoid: (x: Tensor) => Tensor = unary("sigmoid");
/** Elementwise max(x, 0). */
export const relu: (x: Tensor) => Tensor = unary("relu");
/** Elementwise tanh. */
export const tanh: (x: Tensor) => Tensor = unary("tanh");
/** Elementwise x·σ(x). */
export const silu: (x: Tensor) => Tensor = unary("silu");
/** Elementwise natural logarithm. */
export const log: (x: Tensor) => Tensor = unary("log");
/** Elementwise cosine (radians). */
export const cos: (x: Tensor) => Tensor = unary("cos");
/** Elementwise sine (radians). */
export const sin: (x: Tensor) => Tensor = unary("sin");

/** GELU, exact (`"none"`, the default) or the tanh approximation. */
export function gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
  return on("gelu", x).gelu(x, approximate);
}

/** softplus with PyTorch's β = 1 and threshold = 20 defaults. */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return on("softplus", x).softplus(x, beta, threshold);
}

/** Numerically stable softmax along `dim` (default last). */
export function softmax(x: Tensor, dim = -1): Tensor {
  return on("softmax", x).softmax(x, dim);
}

/** Sum along `dim`. */
export function sum(x: Tensor, dim: number, keepdim = false): Tensor {
  return on("sum", x).sum(x, dim, keepdim);
}

/** Mean along `dim`. */
export function mean(x: Tensor, dim: number, keepdim = false): Tensor {
  return on("mean", x).mean(x, dim, keepdim);
}

/** Layer norm over the last dim (PyTorch's default eps 1e-5). */
export function layerNorm(x: Tensor, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  return on("layerNorm", x, weight, bias).layerNorm(x, weight, bias, eps);
}

/** RMS norm over the last dim; without a weight it is TransNormerLLM's SRMSNorm. */
export function rmsNorm(x: Tensor, weight?: Tensor, eps = 1e-6): Tensor {
  return on("rmsNorm", x, weight).rmsNorm(x, weight, eps);
}

/** Embedding lookup: i32 ids [...] into table [V, D] gives [..., D]. */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  return on("embedding", ids, table).embedding(ids, table);
}

/** 2-D convolution (NCHW); `groups = C` makes it depthwise. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, options?: Conv2dOptions): Tensor {
  return on("conv2d", x, weight, bias).conv2d(x, weight, bias, options);
}

/** Causal depthwise 1-D convolution of [B, C, N] with weight [C, 1, K]. */
export function causalConv1d(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return on("causalConv1d", x, weight, bias).causalConv1d(x, weight, bias);
}

/** Adaptive average pool 2-D with PyTorch's (possibly overlapping) bin edges. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: readonly [number, number]): Tensor {
  return on("adaptiveAvgPool2d", x).adaptiveAvgPool2d(x, outputSize);
}

/** Bilinear resize (PyTorch `interpolate(mode="bilinear")`), align_corners false by default. */
export function resizeBilinear(x: Tensor, outputSize: readonly [number, number], alignCorners = false): Tensor {
  return on("resizeBilinear", x).resizeBilinear(x, outputSize, alignCorners);
}

/** Permutes dims (contiguous copy). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  return on("permute", x).permute(x, dims);
}

/** Swaps two dims (contiguous copy). */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const n = x.ndim;
  const dims = [...Array(n).keys()];
  const a = dim0 < 0 ? dim0 + n : dim0;
  const b = dim1 < 0 ? dim1 + n : dim1;
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(x, dims);
}

/** Concatenates along `dim`. */
export function concat(xs: readonly Tensor[], dim: number): Tensor {
  return on("concat", ...xs).concat(xs, dim);
}

/** A slice of `length` entries of `dim` from `start` (contiguous copy). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  return on("narrow", x).narrow(x, dim, start, length);
}

/** Writes `src` into `dst` in place at entries [start, start + src.shape[dim]) of `dim`. */
export function writeSlice(dst: Tensor, src: Tensor, dim: number, start: number): void {
  on("writeSlice", dst, src).writeSlice(dst, src, dim, start);
}

/** Next-token ids i32 [B] of logits [B, V], row b drawing with `uniforms[b]` ∈ [0, 1). */
export function sampleTokens(logits: Tensor, options: SampleOptions, uniforms: Float64Array): Tensor {
  const { temperature = 0, topK = 0, topP = 1 } = options;
  const bad = !Number.isFinite(temperature)
    ? ["temperature", temperature]
    : !Number.isInteger(topK) || topK < 0
    ? ["topK", topK]
    : !(topP > 0 && topP <= 1)
    ? ["topP", topP]
    : undefined;
  if (bad !== undefined) throw new ConfigError("sampleTokens", String(bad[0]), `got ${bad[1]}`);
  if (uniforms.some((u) => !(u >= 0 && u < 1))) {
    throw new ConfigError("sampleTokens", "uniforms", "every draw must lie in [0, 1)");
  }
  return on("sampleTokens", logits).sampleTokens(logits, options, uniforms);
}

/**
 * Rotary position embedding of x [..., N, d] (Llama's half rotation): token n of the N is at
 * position offset + n, pair (i, i + d/2) turns by position · theta^(−2i/d).
 */
export function rope(x: Tensor, offset: number, theta = 10000): Tensor {
  return on("rope", x).rope(x, offset, theta);
}
