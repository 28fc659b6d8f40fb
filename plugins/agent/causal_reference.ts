/**
 * CPU reference of causal agent attention (this zoo's LM form, see README.md), written as the
 * naive quadratic formula so that it shares nothing with the mixer's linear-time scan: for every
 * query t, each agent aggregates the values of the visible prefix j ≤ t with a softmax normalised
 * over that prefix, then the query reads the agents with a softmax over agents.
 *
 * @module
 */
import { ShapeError } from "../../core/errors.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import { linearRows, softmaxInPlace } from "./_grid.ts";
import { checkHeads } from "./config.ts";

/** Options of {@linkcode causalAgentAttention}. */
export interface CausalAgentAttentionOptions {
  /** Score scale s; default d^-1/2. */
  scale?: number;
}

/**
 * Causal agent attention: o_t = Σ_a softmax_a(s·q_t·A_a) · Σ_{j≤t} softmax_{j≤t}(s·A_a·k_j) v_j.
 * Shapes: q, k [B, H, N, d], v [B, H, N, e], agents [B, H, n, d] (learned, not derived from the
 * sequence) → [B, H, N, e]. Output t depends on tokens ≤ t only.
 */
export function causalAgentAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  agents: Tensor,
  options: CausalAgentAttentionOptions = {},
): Tensor {
  const op = "causalAgentAttention";
  const shapes = `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}, agents ${
    fmtShape(agents.shape)
  }`;
  for (const t of [q, k, v, agents]) {
    if (t.ndim !== 4) throw new ShapeError(op, `expected 4-d [B, H, N, d] tensors, got ${shapes}`);
  }
  const [b, h, nt, d] = q.shape;
  const e = v.shape[3];
  const n = agents.shape[2];
  const same = fmtShape(k.shape) === fmtShape(q.shape) && v.shape[0] === b && v.shape[1] === h && v.shape[2] === nt &&
    agents.shape[0] === b && agents.shape[1] === h && agents.shape[3] === d;
  if (!same) throw new ShapeError(op, `mismatched shapes: ${shapes}`);
  if (nt === 0 || n === 0 || d === 0) throw new ShapeError(op, `empty sequence, agents or head: ${shapes}`);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const [qv, kv, vv, av] = [q, k, v, agents].map((t) => Float64Array.from(t.toFloat32Array()));
  const out = new Float64Array(b * h * nt * e);
  const weights = new Float64Array(nt);
  const agentV = new Float64Array(n * e);
  const probs = new Float64Array(n);
  for (let bh = 0; bh < b * h; bh++) {
    const qo = bh * nt * d;
    const vo = bh * nt * e;
    const ao = bh * n * d;
    for (let t = 0; t < nt; t++) {
      agentV.fill(0);
      for (let a = 0; a < n; a++) {
        for (let j = 0; j <= t; j++) weights[j] = scale * dot(av, ao + a * d, kv, qo + j * d, d);
        softmaxInPlace(weights, 0, t + 1);
        for (let j = 0; j <= t; j++) {
          for (let i = 0; i < e; i++) agentV[a * e + i] += weights[j] * vv[vo + j * e + i];
        }
        probs[a] = scale * dot(qv, qo + t * d, av, ao + a * d, d);
      }
      softmaxInPlace(probs, 0, n);
      for (let a = 0; a < n; a++) {
        for (let i = 0; i < e; i++) out[vo + t * e + i] += probs[a] * agentV[a * e + i];
      }
    }
  }
  return tensor(out, { shape: [b, h, nt, e], dtype: q.dtype });
}

function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, d: number): number {
  let s = 0;
  for (let i = 0; i < d; i++) s += x[xo + i] * y[yo + i];
  return s;
}

/** Geometry of the causal layer. */
export interface CausalAgentLayerOptions {
  /** Heads H (dividing C). */
  heads: number;
}

/**
 * The whole causal layer on x [B, N, C]: `qkv` Linear, learned `agents` [n, C] split into heads
 * like q, causal agent attention, plus a causal depthwise conv1d of v (`dwc.weight` [C, 1, K],
 * `dwc.bias`, left zero padding K−1), then `proj`.
 */
export function causalAgentLayerReference(
  x: Tensor,
  parameters: ReadonlyMap<string, Tensor>,
  options: CausalAgentLayerOptions,
): Tensor {
  const op = "causalAgentLayerReference";
  const get = (name: string): Float64Array => {
    const t = parameters.get(name);
    if (t === undefined) throw new ShapeError(op, `missing parameter ${name}`);
    return Float64Array.from(t.toFloat32Array());
  };
  if (x.ndim !== 3) throw new ShapeError(op, `x ${fmtShape(x.shape)} must be [B, N, C]`);
  const [b, nt, c] = x.shape;
  const heads = options.heads;
  const d = checkHeads(c, heads);
  const agentsT = parameters.get("agents");
  if (agentsT === undefined || agentsT.ndim !== 2 || agentsT.shape[1] !== c) {
    throw new ShapeError(op, `agents must be [n, ${c}], got ${agentsT ? fmtShape(agentsT.shape) : "none"}`);
  }
  const n = agentsT.shape[0];
  const kernel = parameters.get("dwc.weight")?.shape[2] ?? 0;
  const xs = Float64Array.from(x.toFloat32Array());
  const qkvBias = parameters.has("qkv.bias") ? get("qkv.bias") : undefined;
  const qkv = linearRows(xs, b * nt, c, get("qkv.weight"), qkvBias, 3 * c);
  // [B, N, 3, H, d] → three [B, H, N, d]
  const split = [0, 1, 2].map((part) => {
    const out = new Float64Array(b * heads * nt * d);
    for (let bi = 0; bi < b; bi++) {
      for (let t = 0; t < nt; t++) {
        for (let h = 0; h < heads; h++) {
          for (let i = 0; i < d; i++) {
            out[((bi * heads + h) * nt + t) * d + i] = qkv[(bi * nt + t) * 3 * c + part * c + h * d + i];
          }
        }
      }
    }
    return tensor(out, { shape: [b, heads, nt, d] });
  });
  const agents = get("agents");
  const agentsHeads = new Float64Array(b * heads * n * d);
  for (let bi = 0; bi < b; bi++) {
    for (let h = 0; h < heads; h++) {
      for (let a = 0; a < n; a++) {
        for (let i = 0; i < d; i++) agentsHeads[((bi * heads + h) * n + a) * d + i] = agents[a * c + h * d + i];
      }
    }
  }
  const attended = causalAgentAttention(split[0], split[1], split[2], tensor(agentsHeads, { shape: [b, heads, n, d] }))
    .toFloat32Array();
  const w = get("dwc.weight");
  const wb = get("dwc.bias");
  const merged = new Float64Array(b * nt * c);
  for (let bi = 0; bi < b; bi++) {
    for (let t = 0; t < nt; t++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < d; i++) {
          const ch = h * d + i;
          let conv = wb[ch];
          for (let j = 0; j < kernel; j++) {
            const src = t - (kernel - 1) + j;
            if (src >= 0) conv += w[ch * kernel + j] * qkv[(bi * nt + src) * 3 * c + 2 * c + ch];
          }
          merged[(bi * nt + t) * c + ch] = attended[((bi * heads + h) * nt + t) * d + i] + conv;
        }
      }
    }
  }
  const out = linearRows(merged, b * nt, c, get("proj.weight"), get("proj.bias"), c);
  return tensor(out, { shape: [b, nt, c], dtype: x.dtype });
}
