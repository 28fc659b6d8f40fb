/**
 * CPU reference of the whole FLatten token mixer as plain float64 loops, parameters by their
 * official names: vision form (FLatten-PVT `q`/`kv` with optional spatial reduction `sr` + `norm`,
 * FLatten-Swin fused `qkv`), positional encoding on k, focused linear attention, rank-restoring
 * depthwise conv (weights shared by the heads), `proj`; and the causal LM form (causal depthwise
 * conv1d on v, no positional encoding). Independent of core ops: the mixer is tested against it.
 *
 * @module
 */
import { ShapeError } from "../../core/errors.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import { causalLinearAttention, focus, linearAttention } from "./_loops.ts";
import { kvFirst, scaleValues } from "./reference.ts";

/** Geometry and options of {@linkcode referenceFlattenMixer}. */
export interface ReferenceMixerOptions {
  /** Attention heads. */
  heads: number;
  /** Token grid [h, w] of the vision form (N = h·w). Ignored when causal. */
  grid?: readonly [number, number];
  /** Spatial reduction ratio of keys/values (needs `sr.*` and `norm.*`); default 1. */
  srRatio?: number;
  /** Focusing power p; default 3. */
  focusingFactor?: number;
  /** Causal LM form. Default false. */
  causal?: boolean;
  /** Kernel-trick order of the vision form; default `auto`. */
  order?: "auto" | "kv" | "qk";
}

const OP = "referenceFlattenMixer";

function param(parameters: Map<string, Tensor>, name: string, shape: readonly number[]): Float32Array {
  const t = parameters.get(name);
  if (t === undefined) throw new ShapeError(OP, `missing parameter ${name} ${fmtShape(shape)}`);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    throw new ShapeError(OP, `parameter ${name} is ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
  }
  return t.toFloat32Array();
}

/** y = x Wᵀ + b over `rows` rows of `inF` features. */
function linear(x: ArrayLike<number>, rows: number, inF: number, w: Float32Array, b: Float32Array | undefined) {
  const outF = w.length / inF;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b === undefined ? 0 : b[o];
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

/** Channels [from, from + width) of rows with `stride` channels. */
function columns(x: Float64Array, rows: number, stride: number, from: number, width: number): Float64Array {
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) out[r * width + c] = x[r * stride + from + c];
  return out;
}

/** FLatten-PVT's `sr` (Conv2d C→C, kernel = stride = r) then `norm` (LayerNorm, eps 1e-5). */
function reduce(
  x: ArrayLike<number>,
  batch: number,
  [h, w]: readonly [number, number],
  channels: number,
  r: number,
  parameters: Map<string, Tensor>,
): Float64Array {
  const weight = param(parameters, "sr.weight", [channels, channels, r, r]);
  const bias = param(parameters, "sr.bias", [channels]);
  const gamma = param(parameters, "norm.weight", [channels]);
  const beta = param(parameters, "norm.bias", [channels]);
  const [oh, ow] = [Math.floor(h / r), Math.floor(w / r)];
  const out = new Float64Array(batch * oh * ow * channels);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < oh; y++) {
      for (let x0 = 0; x0 < ow; x0++) {
        const o = ((b * oh + y) * ow + x0) * channels;
        for (let co = 0; co < channels; co++) {
          let s = bias[co];
          for (let ci = 0; ci < channels; ci++) {
            for (let ky = 0; ky < r; ky++) {
              for (let kx = 0; kx < r; kx++) {
                const token = (y * r + ky) * w + x0 * r + kx;
                s += weight[((co * channels + ci) * r + ky) * r + kx] * x[(b * h * w + token) * channels + ci];
              }
            }
          }
          out[o + co] = s;
        }
        let mean = 0;
        for (let c = 0; c < channels; c++) mean += out[o + c] / channels;
        let variance = 0;
        for (let c = 0; c < channels; c++) variance += (out[o + c] - mean) ** 2 / channels;
        const inv = 1 / Math.sqrt(variance + 1e-5);
        for (let c = 0; c < channels; c++) out[o + c] = (out[o + c] - mean) * inv * gamma[c] + beta[c];
      }
    }
  }
  return out;
}

/** PyTorch's 1-D linear interpolation (align_corners false) of each channel from n to N tokens. */
function interpolateTokens(v: Float64Array, batch: number, n: number, N: number, channels: number): Float64Array {
  const out = new Float64Array(batch * N * channels);
  for (let i = 0; i < N; i++) {
    const src = Math.max((i + 0.5) * (n / N) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), n - 1);
    const i1 = Math.min(i0 + 1, n - 1);
    const t = src - i0;
    for (let b = 0; b < batch; b++) {
      for (let c = 0; c < channels; c++) {
        out[(b * N + i) * channels + c] = (1 - t) * v[(b * n + i0) * channels + c] +
          t * v[(b * n + i1) * channels + c];
      }
    }
  }
  return out;
}

/** Adds the K×K depthwise conv (padding K/2, weights [d, 1, K, K] shared by the heads) of v. */
function addDwc2d(
  out: Float64Array,
  v: Float64Array,
  batch: number,
  [h, w]: readonly [number, number],
  channels: number,
  headDim: number,
  weight: Float32Array,
  bias: Float32Array,
): void {
  const kernel = Math.round(Math.sqrt(weight.length / headDim));
  const pad = Math.floor(kernel / 2);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < channels; c++) {
          const j = c % headDim;
          let s = bias[j];
          for (let ky = 0; ky < kernel; ky++) {
            const yy = y + ky - pad;
            if (yy < 0 || yy >= h) continue;
            for (let kx = 0; kx < kernel; kx++) {
              const xx = x + kx - pad;
              if (xx < 0 || xx >= w) continue;
              s += weight[(j * kernel + ky) * kernel + kx] * v[(b * h * w + yy * w + xx) * channels + c];
            }
          }
          out[(b * h * w + y * w + x) * channels + c] += s;
        }
      }
    }
  }
}

/** Adds the causal depthwise conv1d (left padding K − 1, weights [d, 1, K] shared by the heads) of v. */
function addCausalDwc(
  out: Float64Array,
  v: Float64Array,
  batch: number,
  n: number,
  channels: number,
  headDim: number,
  weight: Float32Array,
  bias: Float32Array,
): void {
  const kernel = weight.length / headDim;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < n; t++) {
      for (let c = 0; c < channels; c++) {
        const j = c % headDim;
        let s = bias[j];
        for (let i = 0; i < kernel; i++) {
          const src = t - (kernel - 1) + i;
          if (src >= 0) s += weight[j * kernel + i] * v[(b * n + src) * channels + c];
        }
        out[(b * n + t) * channels + c] += s;
      }
    }
  }
}

/**
 * The full FLatten mixer on x [B, N, C] with official parameter names; returns [B, N, C] in x's
 * dtype. Uses `qkv.*` when present, else `q.*` and `kv.*`; biases are optional.
 */
export function referenceFlattenMixer(
  x: Tensor,
  parameters: Map<string, Tensor>,
  options: ReferenceMixerOptions,
): Tensor {
  if (x.ndim !== 3) throw new ShapeError(OP, `expected x [B, N, C], got ${fmtShape(x.shape)}`);
  const [batch, tokens, channels] = x.shape;
  const heads = options.heads;
  if (channels % heads !== 0) throw new ShapeError(OP, `${heads} heads do not split x ${fmtShape(x.shape)}`);
  const headDim = channels / heads;
  const causal = options.causal === true;
  const grid = options.grid ?? [tokens, 1];
  if (!causal && grid[0] * grid[1] !== tokens) {
    throw new ShapeError(OP, `x ${fmtShape(x.shape)} does not hold a ${grid[0]}×${grid[1]} grid`);
  }
  const r = causal ? 1 : options.srRatio ?? 1;
  const xs = x.toFloat32Array();
  const bias = (name: string, size: number) => parameters.has(name) ? param(parameters, name, [size]) : undefined;

  let q: Float64Array, k: Float64Array, v: Float64Array;
  let keys = tokens;
  if (parameters.has("qkv.weight")) {
    if (r !== 1) throw new ShapeError(OP, "spatial reduction needs q.* and kv.* parameters, got qkv.*");
    const qkv = linear(
      xs,
      batch * tokens,
      channels,
      param(parameters, "qkv.weight", [3 * channels, channels]),
      bias("qkv.bias", 3 * channels),
    );
    [q, k, v] = [0, 1, 2].map((i) => columns(qkv, batch * tokens, 3 * channels, i * channels, channels));
  } else {
    q = linear(
      xs,
      batch * tokens,
      channels,
      param(parameters, "q.weight", [channels, channels]),
      bias("q.bias", channels),
    );
    const source = r > 1 ? reduce(xs, batch, grid, channels, r, parameters) : xs;
    keys = r > 1 ? Math.floor(grid[0] / r) * Math.floor(grid[1] / r) : tokens;
    const kv = linear(
      source,
      batch * keys,
      channels,
      param(parameters, "kv.weight", [2 * channels, channels]),
      bias("kv.bias", 2 * channels),
    );
    [k, v] = [0, 1].map((i) => columns(kv, batch * keys, 2 * channels, i * channels, channels));
  }
  if (!causal) {
    const pe = param(parameters, "positional_encoding", [1, keys, channels]);
    for (let i = 0; i < k.length; i++) k[i] += pe[i % pe.length];
  }
  const p = options.focusingFactor ?? 3;
  const scale = scaleValues(OP, parameters.get("scale"), channels);
  const shape = { batch, queries: tokens, keys, channels, heads };
  const qf = focus(q, batch * tokens, channels, scale, p);
  const kf = focus(k, batch * keys, channels, scale, p);
  const out = causal
    ? causalLinearAttention(qf, kf, v, shape)
    : linearAttention(qf, kf, v, shape, kvFirst(options.order ?? "auto", shape));

  const dwcBias = param(parameters, "dwc.bias", [headDim]);
  if (causal) {
    const weight = parameters.get("dwc.weight");
    const kernel = weight?.shape[2] ?? 0;
    addCausalDwc(
      out,
      v,
      batch,
      tokens,
      channels,
      headDim,
      param(parameters, "dwc.weight", [headDim, 1, kernel]),
      dwcBias,
    );
  } else {
    const weight = parameters.get("dwc.weight");
    const kernel = weight?.shape[2] ?? 0;
    const vFull = keys === tokens ? v : interpolateTokens(v, batch, keys, tokens, channels);
    const dwc = param(parameters, "dwc.weight", [headDim, 1, kernel, kernel]);
    addDwc2d(out, vFull, batch, grid, channels, headDim, dwc, dwcBias);
  }
  const y = linear(
    out,
    batch * tokens,
    channels,
    param(parameters, "proj.weight", [channels, channels]),
    bias("proj.bias", channels),
  );
  return tensor(y, { shape: [batch, tokens, channels], dtype: x.dtype });
}
