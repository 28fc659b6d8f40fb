/**
 * The vision-form agent token mixer over core ops (runs on whichever backend holds its
 * parameters): Agent-DeiT with a class token, Agent-Swin windows with cyclic shift, Agent-PVT
 * with spatial reduction of k and v. Same math as reference.ts, which tests it.
 *
 * @module
 */
import { ShapeError } from "../../core/errors.ts";
import {
  adaptiveAvgPool2d,
  add,
  concat,
  conv2d,
  layerNorm,
  matmul,
  narrow,
  permute,
  resizeBilinear,
  scale,
  softmax,
} from "../../core/ops.ts";
import type { MixerSpec, TokenMixer } from "../../core/plugin.ts";
import { fmtShape, type Tensor } from "../../core/tensor.ts";
import { linear, mergeHeads, param, splitHeads } from "./_layers.ts";
import { initParameters } from "./_params.ts";
import { type AgentConfig, type AgentGeometry, agentGeometry, agentParameterShapes } from "./config.ts";

/** Creates the vision-form agent mixer of `spec` (non-causal) with random official-named parameters. */
export function createVisionAgentMixer(spec: MixerSpec, config: AgentConfig): TokenMixer {
  const geometry = agentGeometry(spec, config);
  const parameters = initParameters(agentParameterShapes(geometry, spec.qkvBias ?? true), spec);
  return new VisionAgentMixer(geometry, parameters);
}

class VisionAgentMixer implements TokenMixer {
  constructor(readonly geometry: AgentGeometry, readonly parameters: Map<string, Tensor>) {}

  forward(x: Tensor): Tensor {
    const g = this.geometry;
    if (x.ndim !== 3 || x.shape[1] !== g.tokens || x.shape[2] !== g.dim || x.shape[0] === 0) {
      throw new ShapeError(
        "agent",
        `x ${fmtShape(x.shape)} must be [B ≥ 1, ${g.tokens}, ${g.dim}] for grid [${g.grid}]` +
          (g.classToken ? " plus a class token" : ""),
      );
    }
    const [h, w] = g.grid;
    const [wh, ww] = g.window;
    if (g.classToken || (wh === h && ww === w && g.shift === 0)) return this.#attend(x);
    // Swin: roll by −shift, cut windows, attend, paste windows back, roll by +shift.
    const b = x.shape[0];
    using grid = x.reshape([b, h, w, g.dim]);
    using shifted = roll(grid, -g.shift);
    using tiles = shifted.reshape([b, h / wh, wh, w / ww, ww, g.dim]);
    using windowsFirst = permute(tiles, [0, 1, 3, 2, 4, 5]);
    using windows = windowsFirst.reshape([-1, wh * ww, g.dim]);
    using attended = this.#attend(windows);
    using tilesOut = attended.reshape([b, h / wh, w / ww, wh, ww, g.dim]);
    using tilesBack = permute(tilesOut, [0, 1, 3, 2, 4, 5]);
    using gridOut = tilesBack.reshape([b, h, w, g.dim]);
    using unshifted = roll(gridOut, g.shift);
    return unshifted.reshape([b, h * w, g.dim]);
  }

  /** One attention call per sequence of x [b, cls + wh·ww, C] (a window or the whole grid). */
  #attend(x: Tensor): Tensor {
    const g = this.geometry;
    const p = this.parameters;
    const c = g.dim;
    const b = x.shape[0];
    const cls = g.classToken ? 1 : 0;
    const [wh, ww] = g.window;
    const [kh, kw] = g.kvGrid;
    const patches = wh * ww;
    const [q, k, v] = this.#project(x);
    using _q = q;
    using _k = k;
    using _v = v;
    // Agents: p×p average pool of the patch queries on the grid, before the head split.
    using qPatches = narrow(q, 1, cls, patches);
    using qGrid = toChannelsFirst(qPatches, wh, ww);
    using pooled = adaptiveAvgPool2d(qGrid, [g.pool, g.pool]);
    using pooledFlat = pooled.reshape([b, c, g.agentNum]);
    using agentTokens = permute(pooledFlat, [0, 2, 1]);
    using agents = splitHeads(agentTokens, g.heads);
    using qh = splitHeads(q, g.heads);
    using kHeads = splitHeads(k, g.heads);
    using vh = splitHeads(v, g.heads);
    const s = g.headDim ** -0.5;
    // Aggregation: agents attend the keys; broadcast: queries attend the agents.
    using biases = this.#biases();
    const [bias1, bias2] = biases;
    using agentScores = matmul(agents, kHeads, { transB: true });
    using agentScaled = scale(agentScores, s);
    using agentLogits = add(agentScaled, bias1);
    using agentAttn = softmax(agentLogits, -1);
    using agentV = matmul(agentAttn, vh);
    using queryScores = matmul(qh, agents, { transB: true });
    using queryScaled = scale(queryScores, s);
    using queryLogits = add(queryScaled, bias2);
    using queryAttn = softmax(queryLogits, -1);
    using outHeads = matmul(queryAttn, agentV);
    using attended = mergeHeads(outHeads);
    // DWC over the patch values (PVT: upsampled from the reduced grid first), patch tokens only.
    using vPatches = narrow(v, 1, cls, kh * kw);
    using vGrid = toChannelsFirst(vPatches, kh, kw);
    using vFull = g.srRatio > 1 ? resizeBilinear(vGrid, [wh, ww]) : vGrid.reshape(vGrid.shape);
    using dwcGrid = conv2d(vFull, param(p, "dwc.weight"), param(p, "dwc.bias"), { padding: 1, groups: c });
    using dwcFlat = dwcGrid.reshape([b, c, patches]);
    using dwc = permute(dwcFlat, [0, 2, 1]);
    using mixed = cls ? withClassToken(attended, dwc) : add(attended, dwc);
    return linear(mixed, param(p, "proj.weight"), p.get("proj.bias"));
  }

  /** q [b, Nq, C], k and v [b, Nk, C]. */
  #project(x: Tensor): [Tensor, Tensor, Tensor] {
    const g = this.geometry;
    const p = this.parameters;
    const c = g.dim;
    if (g.projection === "qkv") {
      using qkv = linear(x, param(p, "qkv.weight"), p.get("qkv.bias"));
      return [narrow(qkv, 2, 0, c), narrow(qkv, 2, c, c), narrow(qkv, 2, 2 * c, c)];
    }
    const q = linear(x, param(p, "q.weight"), p.get("q.bias"));
    let source = x.reshape(x.shape);
    if (g.srRatio > 1) {
      using grid = toChannelsFirst(source, g.window[0], g.window[1]);
      source.dispose();
      const r = g.srRatio;
      using reduced = conv2d(grid, param(p, "sr.weight"), param(p, "sr.bias"), { stride: r });
      using flat = reduced.reshape([x.shape[0], c, -1]);
      using tokens = permute(flat, [0, 2, 1]);
      source = layerNorm(tokens, param(p, "norm.weight"), param(p, "norm.bias"), 1e-5);
    }
    using _source = source;
    using kv = linear(source, param(p, "kv.weight"), p.get("kv.bias"));
    return [q, narrow(kv, 2, 0, c), narrow(kv, 2, c, c)];
  }

  /** B1 [H, n, Nk] (agent → key) and B2 [H, Nq, n] (query → agent), class token first. */
  #biases(): Tensor[] & Disposable {
    const g = this.geometry;
    const p = this.parameters;
    const { heads: nh, agentNum: n } = g;
    const [kh, kw] = g.kvGrid;
    const [wh, ww] = g.window;
    using an = resizeBilinear(param(p, "an_bias"), [kh, kw]);
    using anRows = an.reshape([1, nh, n, kh, kw]);
    using rowCol1 = add(param(p, "ah_bias"), param(p, "aw_bias"));
    using b1Grid = add(anRows, rowCol1);
    using b1Patches = b1Grid.reshape([1, nh, n, kh * kw]);
    using na = resizeBilinear(param(p, "na_bias"), [wh, ww]);
    using naFlat = na.reshape([1, nh, n, wh * ww]);
    using naT = permute(naFlat, [0, 1, 3, 2]);
    using rowCol2 = add(param(p, "ha_bias"), param(p, "wa_bias"));
    using rowCol2Flat = rowCol2.reshape([1, nh, wh * ww, n]);
    using b2Patches = add(naT, rowCol2Flat);
    const pair = g.classToken
      ? [concat([param(p, "ac_bias"), b1Patches], 3), concat([param(p, "ca_bias"), b2Patches], 2)]
      : [b1Patches.reshape(b1Patches.shape), b2Patches.reshape(b2Patches.shape)];
    return Object.assign(pair, {
      [Symbol.dispose]: () => pair.forEach((t) => t.dispose()),
    });
  }

  [Symbol.dispose](): void {
    for (const t of this.parameters.values()) t.dispose();
  }
}

/** Tokens [b, h·w, C] → [b, C, h, w]. */
function toChannelsFirst(x: Tensor, h: number, w: number): Tensor {
  using t = permute(x, [0, 2, 1]);
  return t.reshape([x.shape[0], x.shape[2], h, w]);
}

/** Cyclic shift of [B, H, W, C] by `shift` along H and W (torch.roll). */
function roll(x: Tensor, shift: number): Tensor {
  let out = x.reshape(x.shape);
  for (const dim of [1, 2]) {
    const size = x.shape[dim];
    const s = ((shift % size) + size) % size;
    if (s === 0) continue;
    using prev = out;
    using tail = narrow(prev, dim, size - s, s);
    using head = narrow(prev, dim, 0, size - s);
    out = concat([tail, head], dim);
  }
  return out;
}

/** Class token row of `attended` as is, patch rows plus `dwc`. */
function withClassToken(attended: Tensor, dwc: Tensor): Tensor {
  const patches = attended.shape[1] - 1;
  using clsRow = narrow(attended, 1, 0, 1);
  using patchRows = narrow(attended, 1, 1, patches);
  using summed = add(patchRows, dwc);
  return concat([clsRow, summed], 1);
}
