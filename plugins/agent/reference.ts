/**
 * CPU reference of Agent Attention (vision forms), written as plain float64 loops: the functional
 * core (aggregation and broadcast softmax attention through agent tokens) and the whole layer of
 * the official Agent-DeiT, Agent-Swin and Agent-PVT code (projections, pooled agents, position
 * biases, DWC, spatial reduction, windows). The mixer and the CUDA kernels are tested against it.
 *
 * @module
 */
import { ShapeError } from "../../core/errors.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import {
  adaptivePoolTokens,
  depthwiseConvTokens,
  layerNormRows,
  linearRows,
  patchConvTokens,
  resizeBilinearPlanes,
  resizeBilinearTokens,
  softmaxInPlace,
} from "./_grid.ts";
import { type AgentGeometry, agentParameterShapes } from "./config.ts";

/** Options of {@linkcode agentAttention}. */
export interface AgentAttentionOptions {
  /** Aggregation bias B1 [H, n, Nk], added to the agent→key scores. */
  agentBias?: Tensor;
  /** Broadcast bias B2 [H, Nq, n], added to the query→agent scores. */
  queryBias?: Tensor;
  /** Score scale s; default d^-1/2. */
  scale?: number;
}

/**
 * Agent attention core, per batch and head: V_A = softmax(s·A Kᵀ + B1) V, then
 * O = softmax(s·Q Aᵀ + B2) V_A. Shapes: q [B, H, Nq, d], k [B, H, Nk, d], v [B, H, Nk, e],
 * agents [B, H, n, d] → [B, H, Nq, e], in q's dtype. Cost O((Nq + Nk)·n·d).
 */
export function agentAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  agents: Tensor,
  options: AgentAttentionOptions = {},
): Tensor {
  const op = "agentAttention";
  const shapes = `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}, agents ${
    fmtShape(agents.shape)
  }`;
  for (const t of [q, k, v, agents]) {
    if (t.ndim !== 4) throw new ShapeError(op, `expected 4-d [B, H, N, d] tensors, got ${shapes}`);
  }
  const [b, h, nq, d] = q.shape;
  const [nk, e] = [k.shape[2], v.shape[3]];
  const n = agents.shape[2];
  const same = k.shape[0] === b && k.shape[1] === h && k.shape[3] === d && v.shape[0] === b &&
    v.shape[1] === h && v.shape[2] === nk && agents.shape[0] === b && agents.shape[1] === h && agents.shape[3] === d;
  if (!same) throw new ShapeError(op, `mismatched shapes: ${shapes}`);
  if (nq === 0 || nk === 0 || n === 0 || d === 0) throw new ShapeError(op, `empty sequence, agents or head: ${shapes}`);
  const b1 = biasValues(op, "agentBias", options.agentBias, [h, n, nk]);
  const b2 = biasValues(op, "queryBias", options.queryBias, [h, nq, n]);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const [qv, kv, vv, av] = [q, k, v, agents].map((t) => Float64Array.from(t.toFloat32Array()));
  const out = new Float64Array(b * h * nq * e);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const bh = bi * h + hi;
      const o = attendTokens(
        qv.subarray(bh * nq * d, (bh + 1) * nq * d),
        kv.subarray(bh * nk * d, (bh + 1) * nk * d),
        vv.subarray(bh * nk * e, (bh + 1) * nk * e),
        av.subarray(bh * n * d, (bh + 1) * n * d),
        { heads: 1, headDim: d, valueDim: e, nq, nk, n, scale },
        b1?.subarray(hi * n * nk, (hi + 1) * n * nk),
        b2?.subarray(hi * nq * n, (hi + 1) * nq * n),
      );
      out.set(o, bh * nq * e);
    }
  }
  return tensor(out, { shape: [b, h, nq, e], dtype: q.dtype });
}

function biasValues(op: string, name: string, bias: Tensor | undefined, shape: number[]): Float64Array | undefined {
  if (bias === undefined) return undefined;
  if (fmtShape(bias.shape) !== fmtShape(shape)) {
    throw new ShapeError(op, `${name} ${fmtShape(bias.shape)} must be ${fmtShape(shape)}`);
  }
  return Float64Array.from(bias.toFloat32Array());
}

interface TokenDims {
  heads: number;
  headDim: number;
  valueDim: number;
  nq: number;
  nk: number;
  n: number;
  scale: number;
}

/**
 * The core on token-major arrays with heads interleaved in channels (channel = head·d + i):
 * q [Nq, H·d], k [Nk, H·d], v [Nk, H·e], agents [n, H·d]; b1 [H, n, Nk], b2 [H, Nq, n].
 */
function attendTokens(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  agents: Float64Array,
  dims: TokenDims,
  b1: Float64Array | undefined,
  b2: Float64Array | undefined,
): Float64Array {
  const { heads, headDim: d, valueDim: e, nq, nk, n, scale } = dims;
  const cq = heads * d;
  const cv = heads * e;
  const out = new Float64Array(nq * cv);
  const s1 = new Float64Array(nk);
  const s2 = new Float64Array(n);
  const agentV = new Float64Array(n * e);
  for (let h = 0; h < heads; h++) {
    agentV.fill(0);
    for (let a = 0; a < n; a++) {
      for (let j = 0; j < nk; j++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += agents[a * cq + h * d + i] * k[j * cq + h * d + i];
        s1[j] = dot * scale + (b1 === undefined ? 0 : b1[(h * n + a) * nk + j]);
      }
      softmaxInPlace(s1, 0, nk);
      for (let j = 0; j < nk; j++) {
        for (let i = 0; i < e; i++) agentV[a * e + i] += s1[j] * v[j * cv + h * e + i];
      }
    }
    for (let t = 0; t < nq; t++) {
      for (let a = 0; a < n; a++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[t * cq + h * d + i] * agents[a * cq + h * d + i];
        s2[a] = dot * scale + (b2 === undefined ? 0 : b2[(h * nq + t) * n + a]);
      }
      softmaxInPlace(s2, 0, n);
      for (let a = 0; a < n; a++) {
        for (let i = 0; i < e; i++) out[t * cv + h * e + i] += s2[a] * agentV[a * e + i];
      }
    }
  }
  return out;
}

type Params = Map<string, Float64Array>;

/**
 * The whole official layer (Agent-DeiT / Agent-Swin / Agent-PVT attention with `proj`) on
 * x [B, N, C], N = h·w (+1 with a class token), with parameters under their official names.
 */
export function agentLayerReference(x: Tensor, parameters: ReadonlyMap<string, Tensor>, g: AgentGeometry): Tensor {
  const op = "agentLayerReference";
  if (x.ndim !== 3 || x.shape[1] !== g.tokens || x.shape[2] !== g.dim) {
    throw new ShapeError(
      op,
      `x ${fmtShape(x.shape)} must be [B, ${g.tokens}, ${g.dim}] (grid [${g.grid}]${
        g.classToken ? " + class token" : ""
      })`,
    );
  }
  const p: Params = new Map();
  for (const [name, shape] of agentParameterShapes(g, parameters.has("qkv.bias") || parameters.has("q.bias"))) {
    const t = parameters.get(name);
    if (t === undefined) throw new ShapeError(op, `missing parameter ${name} ${fmtShape(shape)}`);
    if (fmtShape(t.shape) !== fmtShape(shape)) {
      throw new ShapeError(op, `parameter ${name} is ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
    }
    p.set(name, Float64Array.from(t.toFloat32Array()));
  }
  const [b1, b2] = positionBiases(p, g);
  const [batch, tokens, c] = x.shape;
  const xs = Float64Array.from(x.toFloat32Array());
  const out = new Float64Array(xs.length);
  const [h, w] = g.grid;
  const [wh, ww] = g.window;
  for (let bi = 0; bi < batch; bi++) {
    const xb = xs.subarray(bi * tokens * c, (bi + 1) * tokens * c);
    const ob = out.subarray(bi * tokens * c, (bi + 1) * tokens * c);
    if (g.classToken) {
      ob.set(attendImage(xb, p, g, b1, b2));
      continue;
    }
    // Swin: roll the grid by −shift, cut windows, attend in each, write back to where tokens came from.
    for (let wi = 0; wi < h / wh; wi++) {
      for (let wj = 0; wj < w / ww; wj++) {
        const index: number[] = [];
        for (let i = 0; i < wh; i++) {
          for (let j = 0; j < ww; j++) index.push(((wi * wh + i + g.shift) % h) * w + ((wj * ww + j + g.shift) % w));
        }
        const win = new Float64Array(index.length * c);
        index.forEach((t, r) => win.set(xb.subarray(t * c, (t + 1) * c), r * c));
        const res = attendImage(win, p, g, b1, b2);
        index.forEach((t, r) => ob.set(res.subarray(r * c, (r + 1) * c), t * c));
      }
    }
  }
  return tensor(out, { shape: x.shape, dtype: x.dtype });
}

/** B1 [H, n, Nk] and B2 [H, Nq, n] of one attention call (class token at index 0 when present). */
function positionBiases(p: Params, g: AgentGeometry): [Float64Array, Float64Array] {
  const { heads: nh, agentNum: n } = g;
  const cls = g.classToken ? 1 : 0;
  const [kh, kw] = g.kvGrid;
  const [wh, ww] = g.window;
  const nk = cls + kh * kw;
  const nq = cls + wh * ww;
  const an = resizeBilinearPlanes(p.get("an_bias")!, nh * n, 7, 7, kh, kw);
  const na = resizeBilinearPlanes(p.get("na_bias")!, nh * n, 7, 7, wh, ww);
  const [ah, aw, ha, wa] = ["ah_bias", "aw_bias", "ha_bias", "wa_bias"].map((name) => p.get(name)!);
  const b1 = new Float64Array(nh * n * nk);
  const b2 = new Float64Array(nh * nq * n);
  for (let h = 0; h < nh; h++) {
    for (let a = 0; a < n; a++) {
      if (cls) {
        b1[(h * n + a) * nk] = p.get("ac_bias")![h * n + a];
        b2[(h * nq) * n + a] = p.get("ca_bias")![h * n + a];
      }
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          b1[(h * n + a) * nk + cls + i * kw + j] = an[((h * n + a) * kh + i) * kw + j] + ah[(h * n + a) * kh + i] +
            aw[(h * n + a) * kw + j];
        }
      }
      for (let i = 0; i < wh; i++) {
        for (let j = 0; j < ww; j++) {
          b2[(h * nq + cls + i * ww + j) * n + a] = na[((h * n + a) * wh + i) * ww + j] + ha[(h * wh + i) * n + a] +
            wa[(h * ww + j) * n + a];
        }
      }
    }
  }
  return [b1, b2];
}

/** One attention call over one window (or the whole grid) of tokens [Nq, C]. */
function attendImage(x: Float64Array, p: Params, g: AgentGeometry, b1: Float64Array, b2: Float64Array): Float64Array {
  const c = g.dim;
  const cls = g.classToken ? 1 : 0;
  const [wh, ww] = g.window;
  const [kh, kw] = g.kvGrid;
  const nq = cls + wh * ww;
  const nk = cls + kh * kw;
  let q: Float64Array;
  let k: Float64Array;
  let v: Float64Array;
  if (g.projection === "qkv") {
    const qkv = linearRows(x, nq, c, p.get("qkv.weight")!, p.get("qkv.bias"), 3 * c);
    [q, k, v] = splitColumns(qkv, nq, 3, c);
  } else {
    q = linearRows(x, nq, c, p.get("q.weight")!, p.get("q.bias"), c);
    let source = x;
    if (g.srRatio > 1) {
      const reduced = patchConvTokens(x, c, wh, ww, p.get("sr.weight")!, p.get("sr.bias")!, g.srRatio);
      source = layerNormRows(reduced, nk, c, p.get("norm.weight")!, p.get("norm.bias")!, 1e-5);
    }
    [k, v] = splitColumns(linearRows(source, nk, c, p.get("kv.weight")!, p.get("kv.bias"), 2 * c), nk, 2, c);
  }
  const agents = adaptivePoolTokens(q.subarray(cls * c), c, wh, ww, g.pool, g.pool);
  const dims = {
    heads: g.heads,
    headDim: g.headDim,
    valueDim: g.headDim,
    nq,
    nk,
    n: g.agentNum,
    scale: g.headDim ** -0.5,
  };
  const o = attendTokens(q, k, v, agents, dims, b1, b2);
  // DWC on the patch values (PVT: upsampled back to the query grid first), added to patch tokens.
  let vPatches = v.subarray(cls * c);
  if (g.srRatio > 1) vPatches = resizeBilinearTokens(vPatches, c, kh, kw, wh, ww);
  const dwc = depthwiseConvTokens(vPatches, c, wh, ww, p.get("dwc.weight")!, p.get("dwc.bias")!, 3);
  for (let i = 0; i < dwc.length; i++) o[cls * c + i] += dwc[i];
  return linearRows(o, nq, c, p.get("proj.weight")!, p.get("proj.bias"), c);
}

/** Splits rows [n, parts·c] into `parts` arrays [n, c]. */
function splitColumns(x: Float64Array, rows: number, parts: number, c: number): Float64Array[] {
  const out = Array.from({ length: parts }, () => new Float64Array(rows * c));
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < parts; s++) out[s].set(x.subarray((r * parts + s) * c, (r * parts + s + 1) * c), r * c);
  }
  return out;
}
