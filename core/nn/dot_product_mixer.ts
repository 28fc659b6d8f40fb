/**
 * A generic multi-head dot-product attention token mixer, with the attention itself swappable
 * (transformers' "attention function" design): fused `qkv` Linear with [q | k | v] rows → head
 * split → optional per-head transform of q and k (QK-norm) → the family's attention function →
 * head merge → `proj` Linear. Causal mixers keep a KV cache for decoding. Parameter names follow
 * timm's Attention (`qkv.weight`, `proj.bias`, …), so official checkpoints load one to one.
 *
 * @module
 */
import { DTypeError, ShapeError } from "../errors.ts";
import { linear, narrow } from "../ops.ts";
import type { MixerCost, MixerSpec, MixerState, TokenMixer } from "../plugin.ts";
import { fmtShape, numel, type Tensor } from "../tensor.ts";
import { KvCache } from "./_kv_cache.ts";
import { type HeadGeometry, headGeometry, mergeHeads, splitHeads } from "./heads.ts";
import { initParameters, type ParameterSpec } from "./parameters.ts";

/** What the mixer tells its attention function besides q, k and v. */
export interface AttentionCall {
  /** Whether query i may only see keys at positions ≤ queryOffset + i. */
  causal: boolean;
  /** Key position of query 0: Nk − Nq (0 for a full forward, the cached length when decoding). */
  queryOffset: number;
  /**
   * Nk: the keys to attend are the first keyLength along k's and v's axis 2, which may be longer
   * (a KV cache's spare capacity); implementations read only those.
   */
  keyLength: number;
}

/**
 * A family's attention: q [B, H, Nq, d], k and v [B, Hkv, Nk, d] (H a multiple of Hkv) → o
 * [B, H, Nq, d]. It owns nothing it is given and returns a new tensor.
 */
export type AttentionFunction = (q: Tensor, k: Tensor, v: Tensor, call: AttentionCall) => Tensor;

/**
 * A family's attention read straight from the packed projection, without the head split and merge
 * copies: qkv [B, N, (H + 2·Hkv)·d] holds each token's q heads, then its k heads, then its v heads
 * (q head h at columns h·d to h·d + d − 1, k head g at (H + g)·d, v head g at (H + Hkv + g)·d), so
 * q, k and v are strided views of it. Returns o [B, N, H·d], token-major with head h at columns h·d
 * (the input of `proj`), computing what the family's AttentionFunction computes for the same call;
 * or undefined to decline (a dtype, head dim or device it has no kernel for), and the mixer then
 * splits heads and calls the AttentionFunction. It owns nothing it is given.
 */
export type PackedAttentionFunction = (qkv: Tensor, geometry: HeadGeometry, call: AttentionCall) => Tensor | undefined;

/** A per-head transform of q and k after the head split (e.g. QK-norm), with its own parameters. */
export interface QkTransform {
  /** Its parameters, created after `qkv` and before `proj`. */
  parameters(geometry: HeadGeometry): ParameterSpec[];
  /** Transforms q [B, H, N, d] or k [B, Hkv, N, d]; `parameter` reads the mixer's current tensors. */
  apply(x: Tensor, role: "q" | "k", parameter: (name: string) => Tensor): Tensor;
}

/** What a family plugs into {@linkcode createDotProductMixer}. */
export interface DotProductMixerOptions {
  /** Names the mixer in errors (`… mixer`); ops are reported as `<name> forward` and so on. */
  name: string;
  /** How scores become outputs. */
  attention: AttentionFunction;
  /**
   * Optional copy-free attention over the packed projection, tried first by full forwards of mixers
   * without a qkTransform (a transform needs q and k split into heads); decoding always uses
   * `attention`, whose k and v come from the KV cache.
   */
  packedAttention?: PackedAttentionFunction;
  /** Optional transform of q and k before attention. */
  qkTransform?: QkTransform;
  /**
   * Frees what the family's functions hold for the mixer's lifetime (device tensors uploaded once,
   * such as ALiBi slopes): called by the mixer's dispose, or at once if creating the mixer throws.
   */
  dispose?: () => void;
}

/** The mixer's parameters in creation order: qkv, the transform's, proj. */
function parameterSpecs(spec: MixerSpec, geo: HeadGeometry, options: DotProductMixerOptions): ParameterSpec[] {
  const qkvRows = (geo.heads + 2 * geo.kvHeads) * geo.headDim;
  const list: ParameterSpec[] = [{ name: "qkv.weight", shape: [qkvRows, spec.dim], init: "truncNormal" }];
  if (spec.qkvBias) list.push({ name: "qkv.bias", shape: [qkvRows], init: "zeros" });
  list.push(...options.qkTransform?.parameters(geo) ?? []);
  list.push({ name: "proj.weight", shape: [spec.dim, geo.heads * geo.headDim], init: "truncNormal" });
  if (spec.qkvBias) list.push({ name: "proj.bias", shape: [spec.dim], init: "zeros" });
  return list;
}

/** Parameters and forward FLOPs of one mixer over `tokens` tokens (the transform's FLOPs are not counted). */
export function dotProductMixerCost(spec: MixerSpec, options: DotProductMixerOptions, tokens: number): MixerCost {
  const geo = headGeometry(options.name, spec);
  const params = parameterSpecs(spec, geo, options).reduce((n, p) => n + numel(p.shape), 0);
  const qkvRows = (geo.heads + 2 * geo.kvHeads) * geo.headDim;
  const inner = geo.heads * geo.headDim;
  const pairs = spec.causal ? (tokens * (tokens + 1)) / 2 : tokens * tokens;
  // projections, then q kᵀ and weights·v: 2 FLOPs per multiply-add each
  const flops = 2 * tokens * (qkvRows + inner) * spec.dim + 4 * geo.heads * pairs * geo.headDim;
  return { params, flops };
}

/**
 * Creates the mixer for `spec`, with parameters initialised as timm does on `spec.device`. The
 * mixer owns `options.dispose`: it runs when the mixer is disposed, or before a creation error.
 */
export function createDotProductMixer(spec: MixerSpec, options: DotProductMixerOptions): TokenMixer {
  try {
    return buildMixer(spec, options);
  } catch (error) {
    options.dispose?.();
    throw error;
  }
}

function buildMixer(spec: MixerSpec, options: DotProductMixerOptions): TokenMixer {
  const geo = headGeometry(options.name, spec);
  const parameters = initParameters(spec, parameterSpecs(spec, geo, options));
  // read at call time: a loader may have replaced any entry
  const param = (name: string): Tensor => parameters.get(name)!;
  const optional = (name: string): Tensor | undefined => parameters.get(name);
  const transform = options.qkTransform;

  const checkInput = (op: string, x: Tensor): void => {
    if (x.ndim !== 3 || x.shape[2] !== spec.dim || x.shape[0] === 0 || x.shape[1] === 0) {
      throw new ShapeError(op, `x must be [B, N, ${spec.dim}] with B, N > 0; got ${fmtShape(x.shape)}`);
    }
    if (x.dtype !== spec.dtype) throw new DTypeError(op, `x must be ${spec.dtype} like the parameters; got ${x.dtype}`);
  };

  /** x [B, N, C] → the packed projection [B, N, (H + 2·Hkv)·d]. */
  const projectQkv = (x: Tensor): Tensor => linear(x, param("qkv.weight"), { bias: optional("qkv.bias") });

  /** qkv [B, N, (H + 2·Hkv)·d] → q [B, H, N, d], k and v [B, Hkv, N, d], q and k transformed. */
  const splitQkv = (qkv: Tensor): { q: Tensor; k: Tensor; v: Tensor } => {
    const heads = (start: number, count: number): Tensor => {
      using part = narrow(qkv, 2, start * geo.headDim, count * geo.headDim);
      return splitHeads(part, count);
    };
    const transformed = (start: number, count: number, role: "q" | "k"): Tensor => {
      if (transform === undefined) return heads(start, count);
      using raw = heads(start, count);
      return transform.apply(raw, role, param);
    };
    const q = transformed(0, geo.heads, "q");
    const k = transformed(geo.heads, geo.kvHeads, "k");
    return { q, k, v: heads(geo.heads + geo.kvHeads, geo.kvHeads) };
  };

  const projectOut = (o: Tensor): Tensor => linear(o, param("proj.weight"), { bias: optional("proj.bias") });

  /** Attention of q [B, H, Nq, d] over the first keyLength of k, v [B, Hkv, ≥ keyLength, d], then `proj`: [B, Nq, C]. */
  const attend = (q: Tensor, k: Tensor, v: Tensor, keyLength = k.shape[2]): Tensor => {
    using o = options.attention(q, k, v, { causal: spec.causal, queryOffset: keyLength - q.shape[2], keyLength });
    using merged = mergeHeads(o);
    return projectOut(merged);
  };

  /** x [B, N, C] → split heads, the projection freed before attention runs. */
  const project = (x: Tensor): { q: Tensor; k: Tensor; v: Tensor } => {
    using qkv = projectQkv(x);
    return splitQkv(qkv);
  };

  /**
   * A full forward's projection: the packed path's attention output o [B, N, H·d] when the family
   * has one that accepts it, else split heads; the projection is freed either way.
   */
  const projectFull = (x: Tensor): { o: Tensor } | { q: Tensor; k: Tensor; v: Tensor } => {
    using qkv = projectQkv(x);
    if (options.packedAttention !== undefined && transform === undefined) {
      const call = { causal: spec.causal, queryOffset: 0, keyLength: x.shape[1] };
      const o = options.packedAttention(qkv, geo, call);
      if (o !== undefined) return { o };
    }
    return splitQkv(qkv);
  };

  const mixer: TokenMixer = {
    parameters,
    forward(x: Tensor): Tensor {
      checkInput(`${options.name} forward`, x);
      const projected = projectFull(x);
      if ("o" in projected) {
        using o = projected.o;
        return projectOut(o);
      }
      const { q, k, v } = projected;
      using _q = q, _k = k, _v = v;
      return attend(q, k, v);
    },
    [Symbol.dispose](): void {
      for (const t of parameters.values()) t.dispose();
      options.dispose?.();
    },
  };
  if (!spec.causal) return mixer;

  mixer.createState = (batch: number): MixerState => {
    if (!Number.isInteger(batch) || batch < 1) {
      throw new ShapeError(`${options.name} createState`, `batch must be a positive integer, got ${batch}`);
    }
    return new KvCache(mixer, batch);
  };
  mixer.step = (x: Tensor, state: MixerState): Tensor => {
    const op = `${options.name} step`;
    if (!(state instanceof KvCache) || state.owner !== mixer) {
      throw new ShapeError(op, "state was not created by this mixer's createState");
    }
    checkInput(op, x);
    if (x.shape[0] !== state.batch) {
      throw new ShapeError(op, `x has batch ${x.shape[0]}, the state was created for ${state.batch}`);
    }
    const { q, k, v } = project(x);
    using _q = q;
    state.append(k, v);
    return attend(q, state.k!, state.v!, state.length);
  };
  return mixer;
}
