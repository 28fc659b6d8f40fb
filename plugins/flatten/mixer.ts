/**
 * The FLatten token mixer over core ops (runs on any backend): vision form as the official
 * FocusedLinearAttention (PVT and Swin), and the causal LM form with an O(d²)-per-head decode
 * state (Σkᵀv, Σk, and the last K − 1 values for the causal conv).
 *
 * @module
 */
import { ShapeError } from "../../core/errors.ts";
import {
  add,
  affine,
  cast,
  causalConv1d,
  concat,
  conv2d,
  div,
  layerNorm,
  matmul,
  mean,
  mul,
  narrow,
  permute,
  relu,
  resizeBilinear,
  rmsNorm,
  scale,
  softplus,
  sum,
  toDevice,
} from "../../core/ops.ts";
import type { MixerSpec, MixerState, TokenMixer } from "../../core/plugin.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import { EPS, kvFirstIsCheaper } from "./_loops.ts";
import { type FlattenGeometry, flattenGeometry, flattenParameters } from "./_params.ts";
import { type FlattenConfig, parseFlattenConfig } from "./config.ts";

/** Tokens per chunk of the causal forward: masked (q kᵀ) v inside, carried state across. */
const CHUNK = 64;

/** Decode state of the causal mixer; its tensors are replaced (and the old ones freed) as it advances. */
class FlattenState implements MixerState {
  length = 0;
  constructor(
    /** Σ kᵀv per head [B, H, d, d]. */
    public kv: Tensor,
    /** Σ k per head as a column [B, H, d, 1]. */
    public kSum: Tensor,
    /** The last K − 1 values [B, C, K − 1] (zeros before the first token), or undefined for K = 1. */
    public vTail: Tensor | undefined,
  ) {}
  [Symbol.dispose](): void {
    this.kv.dispose();
    this.kSum.dispose();
    this.vTail?.dispose();
  }
}

class FlattenMixer implements TokenMixer {
  readonly parameters: Map<string, Tensor>;
  readonly #geo: FlattenGeometry;
  readonly #spec: MixerSpec;
  readonly #order: FlattenConfig["order"];

  constructor(spec: MixerSpec, config: FlattenConfig) {
    this.#spec = spec;
    this.#geo = flattenGeometry(spec, config);
    this.#order = config.order;
    this.parameters = flattenParameters(spec, this.#geo);
  }

  #param(name: string): Tensor {
    const t = this.parameters.get(name);
    if (t === undefined) throw new ShapeError("flatten mixer", `parameter ${name} is missing`);
    return t;
  }

  #constant(values: Float32Array, shape: number[]): Tensor {
    const host = tensor(values, { shape, dtype: this.#spec.dtype });
    if (this.#spec.device === "cpu") return host;
    using _ = host;
    return toDevice(host, this.#spec.device);
  }

  #linear(x: Tensor, name: string): Tensor {
    const bias = this.parameters.get(`${name}.bias`);
    const y = matmul(x, this.#param(`${name}.weight`), { transB: true });
    if (bias === undefined) return y;
    using _ = y;
    return add(y, bias);
  }

  #checkInput(x: Tensor, op: string): [number, number] {
    const { channels, causal, grid } = this.#geo;
    if (x.ndim !== 3 || x.shape[2] !== channels) {
      throw new ShapeError(op, `expected x [B, N, ${channels}], got ${fmtShape(x.shape)}`);
    }
    if (!causal && x.shape[1] !== grid[0] * grid[1]) {
      throw new ShapeError(op, `x ${fmtShape(x.shape)} must hold the ${grid[0]}×${grid[1]} token grid`);
    }
    if (x.shape[1] === 0) throw new ShapeError(op, `x ${fmtShape(x.shape)} has no tokens`);
    return [x.shape[0], x.shape[1]];
  }

  /**
   * φ(x) = ‖y‖·y^p/‖y^p‖ with y = (ReLU(x) + eps)/softplus(scale), norms over all C channels.
   * Core ops have no pow or sqrt: y^p is repeated products, and ‖y^p‖ and ‖y‖ enter through
   * RMS norms (eps 0; y > 0): φ = rmsNorm(y^p) · y / rmsNorm(y), the √C factors cancel. Half
   * inputs are focused in f32 (y^p overflows f16), as PyTorch's autocast runs pow and norm in f32.
   */
  #focus(x: Tensor): Tensor {
    const half = x.dtype !== "f32";
    using wide = half ? cast(x, "f32") : undefined;
    using scaleWide = half ? cast(this.#param("scale"), "f32") : undefined;
    using activated = relu(wide ?? x);
    using shifted = affine(activated, 1, EPS);
    using divisor = softplus(scaleWide ?? this.#param("scale"));
    using y = div(shifted, divisor);
    let power = y;
    for (let i = 1; i < this.#geo.focusingFactor; i++) {
      const next = mul(power, y);
      if (power !== y) power.dispose();
      power = next;
    }
    using direction = rmsNorm(power, undefined, 0);
    if (power !== y) power.dispose();
    using unit = rmsNorm(y, undefined, 0);
    using rms = div(y, unit);
    if (!half) return mul(direction, rms);
    using focused = mul(direction, rms);
    return cast(focused, x.dtype);
  }

  /** [B, N, C] → [B, H, N, d]. */
  #splitHeads(x: Tensor): Tensor {
    const [b, n] = x.shape;
    using view = x.reshape([b, n, this.#geo.heads, this.#geo.headDim]);
    return permute(view, [0, 2, 1, 3]);
  }

  /** [B, H, N, d] → [B, N, C]. */
  #mergeHeads(x: Tensor): Tensor {
    const [b, , n] = x.shape;
    using merged = permute(x, [0, 2, 1, 3]);
    return merged.reshape([b, n, this.#geo.channels]);
  }

  /** Keys and values [B, n, C] of the vision form: fused qkv, or kv of x (spatially reduced when r > 1). */
  #queryKeyValue(x: Tensor): [Tensor, Tensor, Tensor] {
    const c = this.#geo.channels;
    if (this.#geo.projection === "qkv") {
      using qkv = this.#linear(x, "qkv");
      return [narrow(qkv, 2, 0, c), narrow(qkv, 2, c, c), narrow(qkv, 2, 2 * c, c)];
    }
    const q = this.#linear(x, "q");
    using source = this.#geo.srRatio > 1 ? this.#reduce(x) : undefined;
    using kv = this.#linear(source ?? x, "kv");
    return [q, narrow(kv, 2, 0, c), narrow(kv, 2, c, c)];
  }

  /** FLatten-PVT's spatial reduction: `sr` conv (kernel = stride = r) on the grid, then `norm`. */
  #reduce(x: Tensor): Tensor {
    const [b] = x.shape;
    const { channels: c, grid: [h, w], srRatio: r } = this.#geo;
    using channelsFirst = permute(x, [0, 2, 1]);
    using image = channelsFirst.reshape([b, c, h, w]);
    using reduced = conv2d(image, this.#param("sr.weight"), this.#param("sr.bias"), { stride: r });
    using flat = reduced.reshape([b, c, this.#geo.keys]);
    using tokens = permute(flat, [0, 2, 1]);
    return layerNorm(tokens, this.#param("norm.weight"), this.#param("norm.bias"), 1e-5);
  }

  forward(x: Tensor): Tensor {
    if (this.#geo.causal) {
      this.#checkInput(x, "flatten mixer forward");
      using state = this.createState(x.shape[0]);
      return this.step(x, state);
    }
    return this.#forwardVision(x);
  }

  #forwardVision(x: Tensor): Tensor {
    const [b, n] = this.#checkInput(x, "flatten mixer forward");
    const { heads, headDim: d, keys, grid: [h, w], kernelSize } = this.#geo;
    const [qRaw, kRaw, vRaw] = this.#queryKeyValue(x);
    using _q = qRaw;
    using _v = vRaw;
    using kPos = add(kRaw, this.#param("positional_encoding"));
    kRaw.dispose();
    using qf = this.#focus(qRaw);
    using kf = this.#focus(kPos);
    using qh = this.#splitHeads(qf);
    using kh = this.#splitHeads(kf);
    using vh = this.#splitHeads(vRaw);

    using kMean = mean(kh, 2, true);
    using qk = matmul(qh, kMean, { transB: true });
    using normaliser = affine(qk, 1, EPS);
    const kvFirst = this.#order === "auto" ? kvFirstIsCheaper(n, keys, d) : this.#order === "kv";
    using numerator = kvFirst ? this.#kvFirst(qh, kh, vh) : this.#qkFirst(qh, kh, vh);
    using attended = div(numerator, normaliser);
    using merged = this.#mergeHeads(attended);

    // rank restoration: depthwise conv of v on the grid, one d-channel kernel shared by all heads
    using vColumns = permute(vh, [0, 1, 3, 2]);
    using vFull = keys === n ? undefined : this.#interpolateTokens(vColumns, n);
    using vImage = (vFull ?? vColumns).reshape([b * heads, d, h, w]);
    using conv = conv2d(vImage, this.#param("dwc.weight"), this.#param("dwc.bias"), {
      padding: Math.floor(kernelSize / 2),
      groups: d,
    });
    using convHeads = conv.reshape([b, heads, d, n]);
    using convTokens = permute(convHeads, [0, 3, 1, 2]);
    using convFlat = convTokens.reshape([b, n, this.#geo.channels]);
    using mixed = add(merged, convFlat);
    return this.#linear(mixed, "proj");
  }

  /** q (kᵀv / n): the d×d matrix first. */
  #kvFirst(qh: Tensor, kh: Tensor, vh: Tensor): Tensor {
    using kv = matmul(kh, vh, { transA: true });
    using kvMean = scale(kv, 1 / kh.shape[2]);
    return matmul(qh, kvMean);
  }

  /** ((q kᵀ) v) / n: the N×n matrix first. */
  #qkFirst(qh: Tensor, kh: Tensor, vh: Tensor): Tensor {
    using scores = matmul(qh, kh, { transB: true });
    using summed = matmul(scores, vh);
    return scale(summed, 1 / kh.shape[2]);
  }

  /** Official PVT with r > 1: v [B, H, d, n] linearly interpolated along tokens to N (align_corners false). */
  #interpolateTokens(vColumns: Tensor, n: number): Tensor {
    const [b, heads, d, keys] = vColumns.shape;
    using row = vColumns.reshape([b * heads, d, 1, keys]);
    using resized = resizeBilinear(row, [1, n], false);
    return resized.reshape([b, heads, d, n]);
  }

  createState(batch: number): MixerState {
    if (!this.#geo.causal) throw new ShapeError("flatten createState", "only the causal mixer decodes");
    const { heads, headDim: d, channels, kernelSize: k } = this.#geo;
    return new FlattenState(
      this.#constant(new Float32Array(batch * heads * d * d), [batch, heads, d, d]),
      this.#constant(new Float32Array(batch * heads * d), [batch, heads, d, 1]),
      k > 1 ? this.#constant(new Float32Array(batch * channels * (k - 1)), [batch, channels, k - 1]) : undefined,
    );
  }

  step(x: Tensor, state: MixerState): Tensor {
    if (!(state instanceof FlattenState)) throw new ShapeError("flatten step", "state was not made by this mixer");
    const [b, n] = this.#checkInput(x, "flatten step");
    if (b !== state.kv.shape[0]) {
      throw new ShapeError(
        "flatten step",
        `x ${fmtShape(x.shape)} has another batch than the state (${state.kv.shape[0]})`,
      );
    }
    const outputs: Tensor[] = [];
    try {
      for (let start = 0; start < n; start += CHUNK) {
        const length = Math.min(CHUNK, n - start);
        using chunk = n <= CHUNK ? undefined : narrow(x, 1, start, length);
        outputs.push(this.#causalChunk(chunk ?? x, state));
      }
      if (outputs.length === 1) return outputs[0];
      return concat(outputs, 1);
    } finally {
      if (outputs.length > 1) { for (const t of outputs) t.dispose(); }
    }
  }

  /**
   * T tokens after `state.length` earlier ones: out_t = q_t(S + Σ_{s≤t in chunk} k_sᵀv_s) /
   * (q_t·(σ + Σ k_s) + (L + t + 1)·eps) — the official means with their N factors cancelled.
   */
  #causalChunk(x: Tensor, state: FlattenState): Tensor {
    const [b, t] = x.shape;
    const { channels: c } = this.#geo;
    using qkv = this.#linear(x, "qkv");
    using qRaw = narrow(qkv, 2, 0, c);
    using kRaw = narrow(qkv, 2, c, c);
    using vRaw = narrow(qkv, 2, 2 * c, c);
    using qf = this.#focus(qRaw);
    using kf = this.#focus(kRaw);
    using qh = this.#splitHeads(qf);
    using kh = this.#splitHeads(kf);
    using vh = this.#splitHeads(vRaw);

    const tril = new Float32Array(t * t);
    const ramp = new Float32Array(t);
    for (let i = 0; i < t; i++) {
      for (let j = 0; j <= i; j++) tril[i * t + j] = 1;
      ramp[i] = (state.length + i + 1) * EPS;
    }
    using mask = this.#constant(tril, [t, t]);
    using epsRamp = this.#constant(ramp, [t, 1]);
    using scores = matmul(qh, kh, { transB: true });
    using causalScores = mul(scores, mask);
    using intra = matmul(causalScores, vh);
    using inter = matmul(qh, state.kv);
    using numerator = add(intra, inter);
    using rowSums = sum(causalScores, 3, true);
    using past = matmul(qh, state.kSum);
    using seen = add(rowSums, past);
    using normaliser = add(seen, epsRamp);
    using attended = div(numerator, normaliser);
    using merged = this.#mergeHeads(attended);

    using conv = this.#causalConv(vRaw, state);
    using mixed = add(merged, conv);

    using kvChunk = matmul(kh, vh, { transA: true });
    const kv = add(state.kv, kvChunk);
    using kChunk = sum(kh, 2, true);
    using kColumn = kChunk.reshape([b, this.#geo.heads, this.#geo.headDim, 1]);
    const kSum = add(state.kSum, kColumn);
    state.kv.dispose();
    state.kSum.dispose();
    state.kv = kv;
    state.kSum = kSum;
    state.length += t;
    return this.#linear(mixed, "proj");
  }

  /** Causal depthwise conv1d of v (weights [d, 1, K] shared by the heads) after the kept K − 1 values. */
  #causalConv(v: Tensor, state: FlattenState): Tensor {
    const [b, t] = v.shape;
    const { heads, headDim: d, channels: c, kernelSize: k } = this.#geo;
    using columns = permute(v, [0, 2, 1]);
    using joined = state.vTail === undefined ? undefined : concat([state.vTail, columns], 2);
    const full = joined ?? columns;
    const total = full.shape[2];
    if (state.vTail !== undefined) {
      const tail = narrow(full, 2, total - (k - 1), k - 1);
      state.vTail.dispose();
      state.vTail = tail;
    }
    using perHead = full.reshape([b * heads, d, total]);
    using conv = causalConv1d(perHead, this.#param("dwc.weight"), this.#param("dwc.bias"));
    using recent = narrow(conv, 2, total - t, t);
    using back = recent.reshape([b, c, t]);
    return permute(back, [0, 2, 1]);
  }

  dispose(): void {
    for (const t of this.parameters.values()) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Creates the FLatten token mixer (vision or causal per spec) with fresh parameters from spec.seed. */
export function createFlattenMixer(spec: MixerSpec, config: unknown): TokenMixer {
  return new FlattenMixer(spec, parseFlattenConfig(config));
}
