/**
 * The CUDA backend: every {@linkcode Backend} op on device "cuda", validated like the CPU backend
 * (ShapeError/DTypeError naming the op and shapes) and run by libattnzoo_runtime's kernels on one
 * stream. Results stay on the GPU until read; reads wait for the queued work.
 *
 * @module
 */
import type {
  Backend,
  BinaryOp,
  Conv2dOptions,
  LinearOptions,
  MatmulOptions,
  SampleOptions,
  UnaryOp,
} from "../../backend.ts";
import { type DType, DTYPES, dtypeSize } from "../../dtype.ts";
import { DTypeError, NativeError, ShapeError } from "../../errors.ts";
import {
  allocHost,
  CpuStorage,
  type Device,
  fmtShape,
  type HostArray,
  numel,
  type Storage,
  Tensor,
} from "../../tensor.ts";
import {
  broadcastShapes,
  broadcastStrides,
  normDim,
  requireFloat,
  requireMaxDims,
  requireOutputSize,
  requireRank,
  requireVector,
  splitAt,
} from "./_shapes.ts";
import type { PluginKernel, PluginKernels, PluginManifest } from "../../plugin.ts";
import { checkRope, checkSampleInputs, checkWriteSlice } from "../_lm_op_checks.ts";
import { openPluginLibrary, type Runtime } from "./_library.ts";
import type { OpProfile } from "./_profiler.ts";
import { DTYPE_CODE, MAX_DIMS } from "./_symbols.ts";
import { CudaStorage } from "./storage.ts";

const UNARY_CODE: Readonly<Record<UnaryOp, number>> = {
  exp: 0,
  sigmoid: 1,
  relu: 2,
  tanh: 3,
  silu: 4,
  neg: 5,
  sqrt: 6,
  rsqrt: 7,
  abs: 8,
  log: 9,
  cos: 10,
  sin: 11,
};
/** Status of kernels/_runtime.h for an index outside its range (AZ_RANGE). */
const RANGE_STATUS = 5;

const BINARY_CODE: Readonly<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3 };

/** Bytes held by the caching allocator, as {@linkcode CudaBackend.memoryStats} reports them. */
export interface CudaMemoryStats {
  /** Bytes in live blocks (rounded up to the allocator's size classes). */
  liveBytes: number;
  /** Highest `liveBytes` since start or the last {@linkcode CudaBackend.resetPeak}. */
  peakBytes: number;
  /** Bytes in freed blocks kept for reuse. */
  cachedBytes: number;
  /** Number of live blocks. */
  liveBlocks: number;
}

export type { LinearOptions };

function u64s(values: readonly number[]): BigUint64Array {
  return BigUint64Array.from(values, (v) => BigInt(v));
}

// Argument arrays of the per-op native calls that take shapes (binary, permute) and the out slot
// of `attnzoo_alloc`: the calls are synchronous and the kernels read only the first `ndim`
// entries, so one set is reused instead of allocating arrays on every op.
const argShape = new BigUint64Array(MAX_DIMS);
const argStridesA = new BigUint64Array(MAX_DIMS);
const argStridesB = new BigUint64Array(MAX_DIMS);
const allocSlot = new BigUint64Array(1);

/** Writes `values` to the front of the reused argument array `into` and returns it. */
function fillU64(into: BigUint64Array, values: readonly number[]): BigUint64Array {
  for (let i = 0; i < values.length; i++) into[i] = BigInt(values[i]);
  return into;
}

/** Writes the element strides of `shape` read over `outShape` (0 on broadcast dims) into `into`. */
function fillBroadcastStrides(
  into: BigUint64Array,
  shape: readonly number[],
  outShape: readonly number[],
): BigUint64Array {
  const lead = outShape.length - shape.length;
  for (let i = 0; i < lead; i++) into[i] = 0n;
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    into[lead + i] = shape[i] === 1 ? 0n : BigInt(stride);
    stride *= shape[i];
  }
  return into;
}

function handleOf(x: Tensor): bigint {
  const storage = x.storage;
  if (!(storage instanceof CudaStorage)) throw new DTypeError("cuda", `tensor lives on ${storage.device}, not cuda`);
  return storage.handle;
}

function optionalHandle(x: Tensor | undefined): bigint {
  return x === undefined ? 0n : handleOf(x);
}

function pair(v: number | readonly [number, number] | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

/** The {@linkcode Backend} of device "cuda". */
export class CudaBackend implements Backend {
  /** Always `"cuda"`. */
  readonly device: Device = "cuda";
  /** The GPU's name and compute capability. */
  readonly info: { name: string; computeCapability: number };
  readonly #rt: Runtime;
  readonly #release: (handle: bigint) => void;
  readonly #plugins = new Map<string, PluginKernels>();

  /** Wraps an initialised runtime (see `loadCudaBackend`). */
  constructor(runtime: Runtime) {
    this.#rt = runtime;
    this.info = runtime.device;
    this.#release = (handle) => runtime.call("attnzoo_free", "free", "", handle);
  }

  /** The plugin's native kernels on this GPU (built on first use), or undefined when it declares none. */
  pluginKernels(plugin: PluginManifest): PluginKernels | undefined {
    if (plugin.kernels.sources.length === 0) return undefined;
    const cached = this.#plugins.get(plugin.name);
    if (cached !== undefined) return cached;
    const library = openPluginLibrary(plugin, this.#rt);
    const stream = new BigUint64Array(1);
    this.#rt.call("attnzoo_stream", "stream", "", stream);
    const kernels: PluginKernels = {
      symbols: library.symbols as Readonly<Record<string, PluginKernel>>,
      pointer: handleOf,
      stream: stream[0],
      empty: (shape, dtype) => this.empty(shape, dtype),
      check: library.check,
      computeCapability: this.info.computeCapability,
      dtypeCode: (dtype) => DTYPE_CODE[dtype],
    };
    this.#plugins.set(plugin.name, kernels);
    return kernels;
  }

  /** A new uninitialised device tensor. */
  empty(shape: readonly number[], dtype: DType): Tensor {
    const length = numel(shape);
    this.#rt.call(
      "attnzoo_alloc",
      "alloc",
      () => `${dtype} ${fmtShape(shape)}`,
      BigInt(length * dtypeSize(dtype)),
      allocSlot,
    );
    return new Tensor(new CudaStorage(dtype, length, allocSlot[0], this.#release), shape);
  }

  /** Allocates an output, runs `fill` on it, and frees it again if `fill` throws. */
  #produce(shape: readonly number[], dtype: DType, fill: (out: bigint) => void): Tensor {
    const out = this.empty(shape, dtype);
    try {
      if (out.size > 0) fill(handleOf(out));
    } catch (error) {
      out.dispose();
      throw error;
    }
    return out;
  }

  /** Copies device storage to a fresh host array (bit patterns for f16/bf16). */
  download(storage: Storage): HostArray {
    if (!(storage instanceof CudaStorage)) {
      throw new DTypeError("download", `expects cuda storage, got ${storage.device}`);
    }
    const host = allocHost(storage.dtype, storage.length);
    // the copy is synchronous, so the SharedArrayBuffer-backed host array is written in place
    const bytes = new Uint8Array(host.buffer, host.byteOffset, host.byteLength);
    this.#rt.call(
      "attnzoo_download",
      "download",
      `${storage.length} elements`,
      bytes,
      storage.handle,
      BigInt(bytes.length),
    );
    return host;
  }

  /** Waits for all queued GPU work (surfacing errors of kernels that ran asynchronously). */
  synchronize(): void {
    this.#rt.call("attnzoo_synchronize", "synchronize", "");
  }

  /**
   * Per-op device time recorded since the last call, by descending total (then forgotten); undefined
   * unless $ATTNZOO_CUDA_PROFILE was set when the backend opened (each op then synchronises).
   */
  takeOpProfile(): OpProfile[] | undefined {
    const profiler = this.#rt.profiler;
    if (profiler === undefined) return undefined;
    const table = profiler.table();
    profiler.reset();
    return table;
  }

  /** Live, peak and cached bytes of the caching allocator. */
  memoryStats(): CudaMemoryStats {
    const out = new BigUint64Array(4);
    this.#rt.call("attnzoo_memory_stats", "memory_stats", "", out);
    return {
      liveBytes: Number(out[0]),
      peakBytes: Number(out[1]),
      cachedBytes: Number(out[2]),
      liveBlocks: Number(out[3]),
    };
  }

  /** Starts a new peak measurement at the current live bytes. */
  resetPeak(): void {
    this.#rt.call("attnzoo_reset_peak", "reset_peak", "");
  }

  /** Returns the allocator's cached blocks to the driver. */
  emptyCache(): void {
    this.#rt.call("attnzoo_empty_cache", "empty_cache", "");
  }

  fromHost(x: Tensor): Tensor {
    const storage = x.storage;
    if (storage instanceof CudaStorage) return this.clone(x);
    if (!(storage instanceof CpuStorage)) throw new DTypeError("fromHost", `cannot copy from ${storage.device}`);
    const src = storage.data;
    // read in place during the (synchronous, pinned-staged) upload: no intermediate copy
    const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_upload",
        "upload",
        () => `${x.dtype} ${fmtShape(x.shape)}`,
        out,
        bytes,
        BigInt(bytes.length),
      );
    });
  }

  cast(x: Tensor, dtype: DType): Tensor {
    if (!DTYPES.includes(dtype)) throw new DTypeError("cast", `unknown dtype "${dtype}"`);
    return this.#produce(x.shape, dtype, (out) => {
      this.#rt.call(
        "attnzoo_cast",
        "cast",
        () => `${x.dtype} → ${dtype} ${fmtShape(x.shape)}`,
        DTYPE_CODE[x.dtype],
        DTYPE_CODE[dtype],
        handleOf(x),
        out,
        x.size,
      );
    });
  }

  clone(x: Tensor): Tensor {
    const bytes = x.size * dtypeSize(x.dtype);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_copy_2d",
        "clone",
        () => fmtShape(x.shape),
        out,
        BigInt(bytes),
        handleOf(x),
        BigInt(bytes),
        BigInt(bytes),
        1n,
      );
    });
  }

  matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
    const { transA = false, transB = false, scale = 1 } = options;
    return this.#gemm("matmul", a, b, transA, transB, undefined, false, scale);
  }

  /**
   * `x @ wᵀ (+ bias) (then GELU-tanh)` with x [..., K] and w [N, K], the epilogue fused into the
   * cuBLASLt call.
   */
  linear(x: Tensor, weight: Tensor, options: LinearOptions = {}): Tensor {
    if (x.ndim < 1 || weight.ndim !== 2) {
      throw new ShapeError(
        "linear",
        `expects x [..., K] and weight [N, K], got ${fmtShape(x.shape)} and ${fmtShape(weight.shape)}`,
      );
    }
    const k = x.shape[x.ndim - 1];
    const flat = x.reshape([x.ndim === 1 ? 1 : numel(x.shape.slice(0, -1)), k]);
    try {
      requireVector("linear", "bias", options.bias, weight.shape[0]);
      const out = this.#gemm("linear", flat, weight, false, true, options.bias, options.gelu ?? false, 1);
      const shaped = out.reshape([...x.shape.slice(0, -1), weight.shape[0]]);
      out.dispose();
      return shaped;
    } finally {
      flat.dispose();
    }
  }

  #gemm(
    op: string,
    a: Tensor,
    b: Tensor,
    transA: boolean,
    transB: boolean,
    bias: Tensor | undefined,
    gelu: boolean,
    scale: number,
  ): Tensor {
    requireFloat(op, a, b, bias);
    if (a.ndim < 2 || b.ndim < 2) {
      throw new ShapeError(
        op,
        `expects [..., M, K] and [..., K, N], got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      );
    }
    const [m, ka] = transA ? [a.shape[a.ndim - 1], a.shape[a.ndim - 2]] : [a.shape[a.ndim - 2], a.shape[a.ndim - 1]];
    const [kb, n] = transB ? [b.shape[b.ndim - 1], b.shape[b.ndim - 2]] : [b.shape[b.ndim - 2], b.shape[b.ndim - 1]];
    if (ka !== kb) {
      throw new ShapeError(
        op,
        `inner dims differ: ${fmtShape(a.shape)}${transA ? "ᵀ" : ""} @ ${fmtShape(b.shape)}${transB ? "ᵀ" : ""}`,
      );
    }
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const batchShape = broadcastShapes(op, batchA, batchB);
    const batch = numel(batchShape);
    const k = ka;
    const detail = () => `${a.dtype} ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`;
    const elem = BigInt(dtypeSize(a.dtype));
    return this.#produce([...batchShape, m, n], a.dtype, (out) => {
      const ha = handleOf(a), hb = handleOf(b), hbias = optionalHandle(bias);
      const run = (mm: number, count: number, offA: number, sA: number, offB: number, sB: number, offC: number) =>
        this.#rt.call(
          "attnzoo_matmul",
          op,
          detail,
          DTYPE_CODE[a.dtype],
          transA ? 1 : 0,
          transB ? 1 : 0,
          mm,
          n,
          k,
          count,
          ha + BigInt(offA) * elem,
          sA,
          hb + BigInt(offB) * elem,
          sB,
          out + BigInt(offC) * elem,
          mm * n,
          hbias,
          gelu ? 1 : 0,
          scale,
        );
      const sizeA = numel(batchA), sizeB = numel(batchB);
      if (sizeA === batch && sizeB === batch) {
        run(m, batch, 0, m * k, 0, k * n, 0); // same batch on both sides
      } else if (sizeB === 1 && !transA) {
        run(batch * m, 1, 0, 0, 0, 0, 0); // one B for every batch: fold the batch into M
      } else {
        // general broadcast: one product per output batch entry
        const stridesA = broadcastStrides(batchA, batchShape), stridesB = broadcastStrides(batchB, batchShape);
        for (let i = 0; i < batch; i++) {
          let rest = i, ia = 0, ib = 0;
          for (let d = batchShape.length - 1; d >= 0; d--) {
            const coord = rest % batchShape[d];
            rest = Math.floor(rest / batchShape[d]);
            ia += coord * stridesA[d];
            ib += coord * stridesB[d];
          }
          run(m, 1, ia * m * k, 0, ib * k * n, 0, i * m * n);
        }
      }
    });
  }

  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
    requireFloat(op, a, b);
    const shape = broadcastShapes(op, a.shape, b.shape);
    requireMaxDims(op, shape);
    return this.#produce(shape, a.dtype, (out) => {
      this.#rt.call(
        "attnzoo_binary",
        op,
        () => `${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
        BINARY_CODE[op],
        DTYPE_CODE[a.dtype],
        shape.length,
        fillU64(argShape, shape),
        handleOf(a),
        fillBroadcastStrides(argStridesA, a.shape, shape),
        handleOf(b),
        fillBroadcastStrides(argStridesB, b.shape, shape),
        out,
      );
    });
  }

  affine(x: Tensor, alpha: number, beta = 0): Tensor {
    requireFloat("affine", x);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_affine",
        "affine",
        () => fmtShape(x.shape),
        DTYPE_CODE[x.dtype],
        handleOf(x),
        out,
        x.size,
        alpha,
        beta,
      );
    });
  }

  unary(op: UnaryOp, x: Tensor): Tensor {
    requireFloat(op, x);
    const code = UNARY_CODE[op];
    if (code === undefined) throw new DTypeError(op, `unknown unary op "${op}"`);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call("attnzoo_unary", op, () => fmtShape(x.shape), code, DTYPE_CODE[x.dtype], handleOf(x), out, x.size);
    });
  }

  gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
    requireFloat("gelu", x);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_gelu",
        "gelu",
        () => fmtShape(x.shape),
        DTYPE_CODE[x.dtype],
        approximate === "tanh" ? 1 : 0,
        handleOf(x),
        out,
        x.size,
      );
    });
  }

  softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
    requireFloat("softplus", x);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_softplus",
        "softplus",
        () => fmtShape(x.shape),
        DTYPE_CODE[x.dtype],
        handleOf(x),
        out,
        x.size,
        beta,
        threshold,
      );
    });
  }

  softmax(x: Tensor, dim = -1): Tensor {
    requireFloat("softmax", x);
    const d = normDim("softmax", dim, x.shape);
    const [outer, size, inner] = splitAt(x.shape, d);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_softmax",
        "softmax",
        () => `${fmtShape(x.shape)} dim ${dim}`,
        DTYPE_CODE[x.dtype],
        handleOf(x),
        out,
        outer,
        size,
        inner,
      );
    });
  }

  sum(x: Tensor, dim: number, keepdim = false): Tensor {
    return this.#reduce("sum", x, dim, keepdim);
  }

  mean(x: Tensor, dim: number, keepdim = false): Tensor {
    return this.#reduce("mean", x, dim, keepdim);
  }

  #reduce(op: "sum" | "mean", x: Tensor, dim: number, keepdim: boolean): Tensor {
    requireFloat(op, x);
    const d = normDim(op, dim, x.shape);
    const [outer, size, inner] = splitAt(x.shape, d);
    const shape = keepdim ? x.shape.map((s, i) => (i === d ? 1 : s)) : x.shape.filter((_, i) => i !== d);
    return this.#produce(shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_reduce",
        op,
        () => `${fmtShape(x.shape)} dim ${dim}`,
        op === "mean" ? 1 : 0,
        DTYPE_CODE[x.dtype],
        handleOf(x),
        out,
        outer,
        size,
        inner,
      );
    });
  }

  layerNorm(x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps: number): Tensor {
    requireFloat("layerNorm", x, weight, bias);
    if (x.ndim < 1) throw new ShapeError("layerNorm", `expects [..., D], got ${fmtShape(x.shape)}`);
    const cols = x.shape[x.ndim - 1];
    requireVector("layerNorm", "weight", weight, cols);
    requireVector("layerNorm", "bias", bias, cols);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_layer_norm",
        "layerNorm",
        () => fmtShape(x.shape),
        DTYPE_CODE[x.dtype],
        handleOf(x),
        optionalHandle(weight),
        optionalHandle(bias),
        out,
        x.size / cols,
        cols,
        eps,
      );
    });
  }

  rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Tensor {
    requireFloat("rmsNorm", x, weight);
    if (x.ndim < 1) throw new ShapeError("rmsNorm", `expects [..., D], got ${fmtShape(x.shape)}`);
    const cols = x.shape[x.ndim - 1];
    requireVector("rmsNorm", "weight", weight, cols);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_rms_norm",
        "rmsNorm",
        () => fmtShape(x.shape),
        DTYPE_CODE[x.dtype],
        handleOf(x),
        optionalHandle(weight),
        out,
        x.size / cols,
        cols,
        eps,
      );
    });
  }

  embedding(ids: Tensor, table: Tensor): Tensor {
    if (ids.dtype !== "i32") {
      throw new DTypeError("embedding", `ids must be i32, got ${ids.dtype} ${fmtShape(ids.shape)}`);
    }
    requireFloat("embedding", table);
    requireRank("embedding", table, 2, "table [V, D]");
    const [vocab, dim] = table.shape;
    const shapes = `ids ${fmtShape(ids.shape)}, table ${fmtShape(table.shape)}`;
    return this.#produce([...ids.shape, dim], table.dtype, (out) => {
      try {
        this.#rt.call(
          "attnzoo_embedding",
          "embedding",
          shapes,
          DTYPE_CODE[table.dtype],
          handleOf(ids),
          handleOf(table),
          out,
          ids.size,
          vocab,
          dim,
        );
      } catch (error) {
        // the kernel flags ids outside the table (status 5): a bad input, not a device failure
        if (error instanceof NativeError && error.code === RANGE_STATUS) {
          throw new ShapeError("embedding", `an id is outside [0, ${vocab}) (${shapes})`);
        }
        throw error;
      }
    });
  }

  conv2d(x: Tensor, weight: Tensor, bias: Tensor | undefined, options: Conv2dOptions = {}): Tensor {
    requireFloat("conv2d", x, weight, bias);
    requireRank("conv2d", x, 4, "input [B, C, H, W]");
    requireRank("conv2d", weight, 4, "weight [C_out, C_in/groups, kh, kw]");
    const [batch, cin, h, w] = x.shape;
    const [cout, cinGroup, kh, kw] = weight.shape;
    const [sh, sw] = pair(options.stride, 1);
    const [ph, pw] = pair(options.padding, 0);
    const groups = options.groups ?? 1;
    const shapes = `input ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}`;
    if (
      ![sh, sw, groups].every((v) => Number.isInteger(v) && v > 0) ||
      ![ph, pw].every((v) => Number.isInteger(v) && v >= 0)
    ) {
      throw new ShapeError(
        "conv2d",
        `bad stride [${sh}, ${sw}], padding [${ph}, ${pw}] or groups ${groups} (${shapes})`,
      );
    }
    if (cin % groups !== 0 || cout % groups !== 0 || cinGroup * groups !== cin) {
      throw new ShapeError("conv2d", `channels do not fit groups=${groups}: ${shapes}`);
    }
    requireVector("conv2d", "bias", bias, cout);
    const oh = Math.floor((h + 2 * ph - kh) / sh) + 1;
    const ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
    if (oh <= 0 || ow <= 0) throw new ShapeError("conv2d", `kernel larger than padded input: ${shapes}`);
    const geometry = u64s([batch, cin, h, w, cout, kh, kw, sh, sw, ph, pw, groups]);
    return this.#produce([batch, cout, oh, ow], x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_conv2d",
        "conv2d",
        shapes,
        DTYPE_CODE[x.dtype],
        handleOf(x),
        handleOf(weight),
        optionalHandle(bias),
        out,
        geometry,
      );
    });
  }

  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined): Tensor {
    requireFloat("causalConv1d", x, weight, bias);
    requireRank("causalConv1d", x, 3, "input [B, C, N]");
    const [batch, channels, length] = x.shape;
    if (weight.ndim !== 3 || weight.shape[0] !== channels || weight.shape[1] !== 1 || weight.shape[2] < 1) {
      throw new ShapeError(
        "causalConv1d",
        `weight must be [${channels}, 1, K], got ${fmtShape(weight.shape)} for input ${fmtShape(x.shape)}`,
      );
    }
    requireVector("causalConv1d", "bias", bias, channels);
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_causal_conv1d",
        "causalConv1d",
        () => `input ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}`,
        DTYPE_CODE[x.dtype],
        handleOf(x),
        handleOf(weight),
        optionalHandle(bias),
        out,
        batch,
        channels,
        length,
        weight.shape[2],
      );
    });
  }

  adaptiveAvgPool2d(x: Tensor, outputSize: readonly [number, number]): Tensor {
    return this.#resample("adaptiveAvgPool2d", x, outputSize, undefined);
  }

  resizeBilinear(x: Tensor, outputSize: readonly [number, number], alignCorners = false): Tensor {
    return this.#resample("resizeBilinear", x, outputSize, alignCorners);
  }

  #resample(op: string, x: Tensor, size: readonly [number, number], alignCorners: boolean | undefined): Tensor {
    requireFloat(op, x);
    requireRank(op, x, 4, "input [B, C, H, W]");
    requireOutputSize(op, size);
    const [batch, channels, h, w] = x.shape;
    if (h === 0 || w === 0) throw new ShapeError(op, `empty spatial dims in ${fmtShape(x.shape)}`);
    const [oh, ow] = size;
    return this.#produce([batch, channels, oh, ow], x.dtype, (out) => {
      const detail = () => `${fmtShape(x.shape)} → [${oh}, ${ow}]`;
      if (alignCorners === undefined) {
        this.#rt.call(
          "attnzoo_adaptive_avg_pool2d",
          op,
          detail,
          DTYPE_CODE[x.dtype],
          handleOf(x),
          out,
          batch * channels,
          h,
          w,
          oh,
          ow,
        );
      } else {
        this.#rt.call(
          "attnzoo_resize_bilinear",
          op,
          detail,
          DTYPE_CODE[x.dtype],
          handleOf(x),
          out,
          batch * channels,
          h,
          w,
          oh,
          ow,
          alignCorners ? 1 : 0,
        );
      }
    });
  }

  permute(x: Tensor, dims: readonly number[]): Tensor {
    const n = x.ndim;
    const seen = new Set(dims.map((d) => (d < 0 ? d + n : d)));
    if (dims.length !== n || seen.size !== n || [...seen].some((d) => !Number.isInteger(d) || d < 0 || d >= n)) {
      throw new ShapeError(
        "permute",
        `dims [${dims.join(", ")}] are not a permutation of ${n} dims (${fmtShape(x.shape)})`,
      );
    }
    requireMaxDims("permute", x.shape);
    const order = dims.map((d) => (d < 0 ? d + n : d));
    return this.#produce(order.map((d) => x.shape[d]), x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_permute",
        "permute",
        () => `${fmtShape(x.shape)} by [${dims.join(", ")}]`,
        dtypeSize(x.dtype),
        n,
        fillU64(argShape, x.shape),
        fillU64(argStridesA, order),
        handleOf(x),
        out,
      );
    });
  }

  concat(xs: readonly Tensor[], dim: number): Tensor {
    if (xs.length === 0) throw new ShapeError("concat", "needs at least one tensor");
    const first = xs[0];
    const d = normDim("concat", dim, first.shape);
    for (const x of xs) {
      if (x.dtype !== first.dtype) throw new DTypeError("concat", `dtypes differ: ${first.dtype} and ${x.dtype}`);
      if (x.ndim !== first.ndim || x.shape.some((s, i) => i !== d && s !== first.shape[i])) {
        throw new ShapeError(
          "concat",
          `shapes ${xs.map((t) => fmtShape(t.shape)).join(", ")} differ outside dim ${dim}`,
        );
      }
    }
    const total = xs.reduce((acc, x) => acc + x.shape[d], 0);
    const shape = first.shape.map((s, i) => (i === d ? total : s));
    const [outer, , inner] = splitAt(shape, d);
    const elem = dtypeSize(first.dtype);
    return this.#produce(shape, first.dtype, (out) => {
      let offset = 0;
      for (const x of xs) {
        const width = x.shape[d] * inner * elem;
        if (width > 0) {
          this.#rt.call(
            "attnzoo_copy_2d",
            "concat",
            () => `${xs.map((t) => fmtShape(t.shape)).join(", ")} along ${dim}`,
            out + BigInt(offset),
            BigInt(total * inner * elem),
            handleOf(x),
            BigInt(width),
            BigInt(width),
            BigInt(outer),
          );
        }
        offset += width;
      }
    });
  }

  narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
    const d = normDim("narrow", dim, x.shape);
    if (
      !Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > x.shape[d]
    ) {
      throw new ShapeError(
        "narrow",
        `start ${start} length ${length} out of range for dim ${dim} of ${fmtShape(x.shape)}`,
      );
    }
    const shape = x.shape.map((s, i) => (i === d ? length : s));
    const [outer, size, inner] = splitAt(x.shape, d);
    const elem = dtypeSize(x.dtype);
    return this.#produce(shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_copy_2d",
        "narrow",
        () => fmtShape(x.shape),
        out,
        BigInt(length * inner * elem),
        handleOf(x) + BigInt(start * inner * elem),
        BigInt(size * inner * elem),
        BigInt(length * inner * elem),
        BigInt(outer),
      );
    });
  }

  writeSlice(dst: Tensor, src: Tensor, dim: number, start: number): void {
    if (dst.dtype !== src.dtype) throw new DTypeError("writeSlice", `dtypes differ: ${dst.dtype} and ${src.dtype}`);
    const d = normDim("writeSlice", dim, dst.shape);
    checkWriteSlice(dst, src, d, dim, start);
    const length = src.shape[d];
    if (src.size === 0) return;
    const [outer, size, inner] = splitAt(dst.shape, d);
    const elem = dtypeSize(dst.dtype);
    this.#rt.call(
      "attnzoo_copy_2d",
      "writeSlice",
      () => `${fmtShape(src.shape)} into ${fmtShape(dst.shape)}`,
      handleOf(dst) + BigInt(start * inner * elem),
      BigInt(size * inner * elem),
      handleOf(src),
      BigInt(length * inner * elem),
      BigInt(length * inner * elem),
      BigInt(outer),
    );
  }

  sampleTokens(logits: Tensor, options: SampleOptions, uniforms: Float64Array): Tensor {
    requireFloat("sampleTokens", logits);
    checkSampleInputs(logits, uniforms);
    const [batch, vocab] = logits.shape;
    return this.#produce([batch], "i32", (out) => {
      this.#rt.call(
        "attnzoo_sample_tokens",
        "sampleTokens",
        () => fmtShape(logits.shape),
        DTYPE_CODE[logits.dtype],
        handleOf(logits),
        new Uint8Array(uniforms.buffer, uniforms.byteOffset, uniforms.byteLength),
        out,
        BigInt(batch),
        BigInt(vocab),
        options.temperature ?? 0,
        BigInt(options.topK ?? 0),
        options.topP ?? 1,
      );
    });
  }

  rope(x: Tensor, offset: number, theta: number): Tensor {
    requireFloat("rope", x);
    checkRope(x, offset, theta);
    const dim = x.shape[x.ndim - 1];
    return this.#produce(x.shape, x.dtype, (out) => {
      this.#rt.call(
        "attnzoo_rope",
        "rope",
        () => fmtShape(x.shape),
        DTYPE_CODE[x.dtype],
        handleOf(x),
        out,
        BigInt(x.size / dim),
        BigInt(x.shape[x.ndim - 2]),
        BigInt(dim),
        BigInt(offset),
        theta,
      );
    });
  }
}
