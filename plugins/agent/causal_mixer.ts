/**
 * The causal (LM) agent token mixer: learned agents, prefix-normalised aggregation by a running
 * max/sum scan, causal depthwise conv1d on v, and a one-token decode with O(n·d) state per head.
 * Design in README.md; reference in causal_reference.ts.
 *
 * @module
 */
import { ShapeError } from "../../core/errors.ts";
import { add, cast, causalConv1d, concat, matmul, narrow, permute, scale, softmax, toDevice } from "../../core/ops.ts";
import type { MixerSpec, MixerState, TokenMixer } from "../../core/plugin.ts";
import { fmtShape, type Tensor, zeros } from "../../core/tensor.ts";
import { linear, mergeHeads, param, splitHeads } from "./_layers.ts";
import { initParameters } from "./_params.ts";
import { agentOpScan, AgentOpScanState, CausalMasks } from "./_op_scan.ts";
import { type AgentConfig, checkHeads } from "./config.ts";

/** Official-style names and shapes of the causal layer's parameters. */
export function causalAgentParameterShapes(spec: MixerSpec, config: AgentConfig): Map<string, number[]> {
  const c = spec.dim;
  const shapes = new Map<string, number[]>([["qkv.weight", [3 * c, c]]]);
  if (spec.qkvBias) shapes.set("qkv.bias", [3 * c]);
  shapes.set("agents", [config.agentNum, c]);
  shapes.set("dwc.weight", [c, 1, config.kernelSize]);
  shapes.set("dwc.bias", [c]);
  shapes.set("proj.weight", [c, c]);
  shapes.set("proj.bias", [c]);
  return shapes;
}

/** Creates the causal agent mixer of `spec` with random parameters. */
export function createCausalAgentMixer(spec: MixerSpec, config: AgentConfig): TokenMixer {
  checkHeads(spec.dim, spec.heads);
  return new CausalAgentMixer(spec, config, initParameters(causalAgentParameterShapes(spec, config), spec));
}

/** Decode state: the scan statistics and the last K−1 values [B, C, K−1] for the conv. */
class CausalAgentState implements MixerState {
  length = 0;
  constructor(readonly batch: number, readonly scan: AgentOpScanState, public tail: Tensor | undefined) {}
  [Symbol.dispose](): void {
    this.scan[Symbol.dispose]();
    this.tail?.dispose();
    this.tail = undefined;
  }
}

class CausalAgentMixer implements TokenMixer {
  readonly #heads: number;
  readonly #kernel: number;
  readonly #masks: CausalMasks;
  constructor(readonly spec: MixerSpec, readonly config: AgentConfig, readonly parameters: Map<string, Tensor>) {
    this.#heads = spec.heads;
    this.#kernel = config.kernelSize;
    this.#masks = new CausalMasks(spec.device);
  }

  forward(x: Tensor): Tensor {
    this.#check(x, "forward");
    using state = new AgentOpScanState();
    const [attended, v] = this.#attend(x, state);
    using _a = attended;
    using _v = v;
    using vT = permute(v, [0, 2, 1]);
    using convT = causalConv1d(vT, param(this.parameters, "dwc.weight"), param(this.parameters, "dwc.bias"));
    return this.#finish(attended, convT);
  }

  createState(batch: number): MixerState {
    if (!Number.isInteger(batch) || batch <= 0) throw new ShapeError("agent.createState", `batch ${batch} must be ≥ 1`);
    const k = this.#kernel;
    const tail = k > 1 ? this.#onDevice(zeros([batch, this.spec.dim, k - 1], this.spec.dtype)) : undefined;
    return new CausalAgentState(batch, new AgentOpScanState(), tail);
  }

  step(x: Tensor, state: MixerState): Tensor {
    this.#check(x, "step");
    if (!(state instanceof CausalAgentState)) {
      throw new ShapeError("agent.step", "state was not created by this mixer's createState");
    }
    if (state.batch !== x.shape[0]) {
      throw new ShapeError("agent.step", `x ${fmtShape(x.shape)} has batch ${x.shape[0]}, state has ${state.batch}`);
    }
    const tokens = x.shape[1];
    const [attended, v] = this.#attend(x, state.scan);
    using _a = attended;
    using _v = v;
    using vT = permute(v, [0, 2, 1]);
    const w = param(this.parameters, "dwc.weight");
    const bias = param(this.parameters, "dwc.bias");
    let convT: Tensor;
    if (state.tail === undefined) convT = causalConv1d(vT, w, bias);
    else {
      // The K−1 remembered values stand in for the left padding; their outputs are dropped.
      const keep = this.#kernel - 1;
      using window = concat([state.tail, vT], 2);
      using full = causalConv1d(window, w, bias);
      convT = narrow(full, 2, keep, tokens);
      state.tail.dispose();
      state.tail = narrow(window, 2, tokens, keep);
    }
    using _c = convT;
    state.length += tokens;
    return this.#finish(attended, convT);
  }

  #check(x: Tensor, op: string): void {
    if (x.ndim !== 3 || x.shape[2] !== this.spec.dim || x.shape[0] === 0 || x.shape[1] === 0) {
      throw new ShapeError(`agent.${op}`, `x ${fmtShape(x.shape)} must be [B ≥ 1, N ≥ 1, ${this.spec.dim}]`);
    }
  }

  #onDevice(t: Tensor): Tensor {
    if (this.spec.device === "cpu") return t;
    using _host = t;
    return toDevice(t, this.spec.device);
  }

  /** Attention output [B, T, C] and v [B, T, C] of T new tokens, advancing the scan. */
  #attend(x: Tensor, scan: AgentOpScanState): [Tensor, Tensor] {
    const p = this.parameters;
    const c = this.spec.dim;
    const [b, tokens] = x.shape;
    const s = (c / this.#heads) ** -0.5;
    using qkv = linear(x, param(p, "qkv.weight"), p.get("qkv.bias"));
    using q = narrow(qkv, 2, 0, c);
    using k = narrow(qkv, 2, c, c);
    const v = narrow(qkv, 2, 2 * c, c);
    using agentRows = param(p, "agents").reshape([1, this.config.agentNum, c]);
    using agents = splitHeads(agentRows, this.#heads);
    using qh = splitHeads(q, this.#heads);
    using kh = splitHeads(k, this.#heads);
    using vh = splitHeads(v, this.#heads);
    using keyScores = matmul(agents, kh, { transB: true });
    using keyScaled = scale(keyScores, s);
    using queryScores = matmul(qh, agents, { transB: true });
    using queryScaled = scale(queryScores, s);
    using queryProbs = softmax(queryScaled, -1);
    const bh = b * this.#heads;
    const e = c / this.#heads;
    using scores = keyScaled.reshape([bh, this.config.agentNum, tokens]);
    using probs = queryProbs.reshape([bh, tokens, this.config.agentNum]);
    using values = vh.reshape([bh, tokens, e]);
    using out32 = agentOpScan(scores, probs, values, scan, this.#masks);
    using out = out32.dtype === x.dtype ? out32.reshape(out32.shape) : cast(out32, x.dtype);
    using heads = out.reshape([b, this.#heads, tokens, e]);
    return [mergeHeads(heads), v];
  }

  /** proj(attended + conv), conv given channels-first [B, C, T]. */
  #finish(attended: Tensor, convT: Tensor): Tensor {
    using conv = permute(convT, [0, 2, 1]);
    using mixed = add(attended, conv);
    return linear(mixed, param(this.parameters, "proj.weight"), this.parameters.get("proj.bias"));
  }

  [Symbol.dispose](): void {
    for (const t of this.parameters.values()) t.dispose();
    this.#masks[Symbol.dispose]();
  }
}
