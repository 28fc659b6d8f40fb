// Sigmoid attention over packed variable-length batches (FlashAttention's varlen layout): the
// checks, the CPU path (the reference math per sequence) and the CUDA path on
// attnzoo_sigmoid_forward_varlen. The public entry point is sigmoidAttentionVarlen in mod.ts,
// which resolves the plugin's kernels.
import { slopesOnDevice } from "../../core/alibi.ts";
import { ConfigError, DTypeError, ShapeError } from "../../core/errors.ts";
import { launchInto, readF64, readSlopes, resolveScale, type Slopes } from "../../core/nn/mod.ts";
import { toDevice } from "../../core/ops.ts";
import type { PluginKernels } from "../../core/plugin.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import { flashSupports } from "./_flash.ts";
import { sigmoidForwardF64, type SigmoidMath } from "./_kernel.ts";

/**
 * Cumulative sequence offsets, B + 1 values: sequence b owns rows [offsets[b], offsets[b + 1]) of
 * its packed tensor. Numbers, an Int32Array, or a 1-D i32 tensor on any device (read back once
 * for the checks).
 */
export type SequenceOffsets = Tensor | readonly number[] | Int32Array;

/** Options of `sigmoidAttentionVarlen`. */
export interface SigmoidVarlenOptions {
  /** The scalar b added to every score, usually −ln(training length). */
  bias: number;
  /** Score scale; default d^-½. */
  scale?: number;
  /** Hide key j from query i of a sequence when j > i + nk − nq (bottom-right, per sequence). Default false. */
  causal?: boolean;
  /** ALiBi slopes, [H] or [B, H] (B sequences): −slope·|i + nk − nq − j| per sequence. */
  alibiSlopes?: Slopes;
}

/** The checked inputs: sizes, the host copy of both offset arrays and the score parameters. */
export interface VarlenProblem {
  batch: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  offsetsQ: Int32Array;
  offsetsK: Int32Array;
  maxQ: number;
  maxK: number;
  math: SigmoidMath;
}

const I32_MAX = 2 ** 31 - 1;

function readOffsets(op: string, name: string, offsets: SequenceOffsets, rows: number): Int32Array {
  let values: ArrayLike<number>;
  if (Array.isArray(offsets) || offsets instanceof Int32Array) values = offsets as ArrayLike<number>;
  else {
    const t = offsets as Tensor;
    if (t.ndim !== 1 || t.dtype !== "i32") {
      throw new ShapeError(op, `${name} must be a 1-D i32 tensor or numbers; got ${t.dtype} ${fmtShape(t.shape)}`);
    }
    values = t.toTypedArray();
  }
  if (values.length < 2) throw new ShapeError(op, `${name} must hold B + 1 ≥ 2 offsets; got ${values.length}`);
  const out = new Int32Array(values.length);
  for (let b = 0; b < values.length; b++) {
    const x = values[b];
    const previous = b === 0 ? 0 : out[b - 1];
    if (!Number.isInteger(x) || x < previous || x > I32_MAX || (b === 0 && x !== 0)) {
      throw new ShapeError(op, `${name} must be integers from 0, non-decreasing; ${name}[${b}] = ${x}`);
    }
    out[b] = x;
  }
  if (out[out.length - 1] !== rows) {
    throw new ShapeError(op, `${name} must end at the packed row count ${rows}; got ${out[out.length - 1]}`);
  }
  return out;
}

function longest(offsets: Int32Array): number {
  let most = 0;
  for (let b = 0; b + 1 < offsets.length; b++) most = Math.max(most, offsets[b + 1] - offsets[b]);
  return most;
}

/**
 * Checks q [total_q, H, d], k and v [total_k, Hkv, d] (same dtype and device, H a multiple of Hkv),
 * both offset arrays (B + 1 each, from 0, non-decreasing, ending at total_q / total_k; a sequence
 * with queries has at least one key) and the options; errors name the bad argument.
 */
export function checkVarlen(
  op: string,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  cuSeqlensQ: SequenceOffsets,
  cuSeqlensK: SequenceOffsets,
  options: SigmoidVarlenOptions,
): VarlenProblem {
  const shapes = `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`;
  if (q.ndim !== 3 || k.ndim !== 3 || v.ndim !== 3) {
    throw new ShapeError(op, `q, k, v must be packed [total, heads, d] tensors; got ${shapes}`);
  }
  const [, heads, headDim] = q.shape;
  const [, kvHeads] = k.shape;
  if (v.shape.some((n, i) => n !== k.shape[i]) || k.shape[2] !== headDim) {
    throw new ShapeError(op, `k and v must be [total_k, Hkv, ${headDim}] (q's head dim); got ${shapes}`);
  }
  if (heads === 0 || kvHeads === 0 || headDim === 0 || heads % kvHeads !== 0) {
    throw new ShapeError(op, `q's heads must be a positive multiple of k's; got ${shapes}`);
  }
  if (q.dtype === "i32" || k.dtype !== q.dtype || v.dtype !== q.dtype) {
    throw new DTypeError(op, `q, k, v must share one float dtype; got ${q.dtype}, ${k.dtype}, ${v.dtype}`);
  }
  if (k.device !== q.device || v.device !== q.device) {
    throw new DTypeError(op, `q, k, v must be on one device; got ${q.device}, ${k.device}, ${v.device}`);
  }
  const offsetsQ = readOffsets(op, "cuSeqlensQ", cuSeqlensQ, q.shape[0]);
  const offsetsK = readOffsets(op, "cuSeqlensK", cuSeqlensK, k.shape[0]);
  if (offsetsQ.length !== offsetsK.length) {
    throw new ShapeError(
      op,
      `cuSeqlensQ and cuSeqlensK must both hold B + 1 offsets; got ${offsetsQ.length} and ${offsetsK.length}`,
    );
  }
  const batch = offsetsQ.length - 1;
  for (let b = 0; b < batch; b++) {
    if (offsetsQ[b + 1] > offsetsQ[b] && offsetsK[b + 1] === offsetsK[b]) {
      throw new ShapeError(
        op,
        `cuSeqlensK gives sequence ${b} no keys for its ${offsetsQ[b + 1] - offsetsQ[b]} queries`,
      );
    }
  }
  if (typeof options.bias !== "number" || Number.isNaN(options.bias) || options.bias === Infinity) {
    throw new ConfigError(op, "bias", `must be a number below +∞ (e.g. −ln(maxLength)), got ${options.bias}`);
  }
  if (options.causal !== undefined && typeof options.causal !== "boolean") {
    throw new ConfigError(op, "causal", `must be a boolean, got ${options.causal}`);
  }
  const math: SigmoidMath = {
    scale: resolveScale(op, options.scale, headDim),
    bias: options.bias,
    causal: options.causal ?? false,
    slopes: options.alibiSlopes === undefined ? undefined : readSlopes(op, options.alibiSlopes, batch, heads),
  };
  return {
    batch,
    heads,
    kvHeads,
    headDim,
    offsetsQ,
    offsetsK,
    maxQ: longest(offsetsQ),
    maxK: longest(offsetsK),
    math,
  };
}

/** Rows [start, start + n) of packed [total, heads, d] values as head-major [heads, n, d]. */
function headMajor(x: Float64Array, start: number, n: number, heads: number, d: number): Float64Array {
  const out = new Float64Array(heads * n * d);
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < heads; h++) {
      out.set(x.subarray(((start + i) * heads + h) * d, ((start + i) * heads + h + 1) * d), (h * n + i) * d);
    }
  }
  return out;
}

/** The CPU path: each sequence through the reference's f64 math; [total_q, H, d] on the host. */
export function varlenOnHost(p: VarlenProblem, q: Tensor, k: Tensor, v: Tensor): Tensor {
  const { heads, kvHeads, headDim: d, offsetsQ, offsetsK } = p;
  const [qa, ka, va] = [readF64(q), readF64(k), readF64(v)];
  const out = new Float64Array(qa.length);
  for (let b = 0; b < p.batch; b++) {
    const nq = offsetsQ[b + 1] - offsetsQ[b], nk = offsetsK[b + 1] - offsetsK[b];
    if (nq === 0) continue;
    const geometry = { batch: 1, heads, kvHeads, nq, nk, d, e: d };
    const slopes = p.math.slopes?.subarray(b * heads, (b + 1) * heads);
    const o = sigmoidForwardF64(
      geometry,
      headMajor(qa, offsetsQ[b], nq, heads, d),
      headMajor(ka, offsetsK[b], nk, kvHeads, d),
      headMajor(va, offsetsK[b], nk, kvHeads, d),
      { ...p.math, slopes },
    );
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < nq; i++) {
        out.set(o.subarray((h * nq + i) * d, (h * nq + i + 1) * d), ((offsetsQ[b] + i) * heads + h) * d);
      }
    }
  }
  return tensor(out, { shape: q.shape, dtype: q.dtype });
}

/** Whether the varlen kernel takes these inputs (bf16/f16 on its head dims, some queries). */
export function kernelTakes(p: VarlenProblem, q: Tensor): boolean {
  return flashSupports(q, p.headDim) && p.maxQ > 0;
}

/** The CUDA path: attnzoo_sigmoid_forward_varlen on device q, k, v; [total_q, H, d] on the device. */
export function varlenOnDevice(kernels: PluginKernels, p: VarlenProblem, q: Tensor, k: Tensor, v: Tensor): Tensor {
  // the offsets (and slopes) go up from their checked host copies: small, and owned here; freed
  // after the launch, the backend's single stream orders any reuse of their memory after the kernel
  using hostQ = tensor(p.offsetsQ, { dtype: "i32" });
  using hostK = tensor(p.offsetsK, { dtype: "i32" });
  using cuQ = toDevice(hostQ, q.device);
  using cuK = toDevice(hostK, q.device);
  using slopes = p.math.slopes === undefined ? undefined : slopesOnDevice(p.math.slopes, q.device);
  const out = kernels.empty(q.shape, q.dtype);
  return launchInto(out, () => {
    const status = kernels.symbols.attnzoo_sigmoid_forward_varlen(
      kernels.dtypeCode(q.dtype),
      kernels.pointer(q),
      kernels.pointer(k),
      kernels.pointer(v),
      kernels.pointer(out),
      kernels.pointer(cuQ),
      kernels.pointer(cuK),
      p.batch,
      p.heads,
      p.kvHeads,
      p.maxQ,
      p.maxK,
      p.headDim,
      p.math.scale,
      p.math.bias,
      p.math.causal ? 1 : 0,
      slopes === undefined ? 0n : kernels.pointer(slopes),
      p.heads,
      kernels.stream,
    ) as number;
    kernels.check(
      status,
      "sigmoid_forward_varlen",
      () => `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, ${p.batch} sequences`,
    );
  });
}
