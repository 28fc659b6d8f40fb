/**
 * The TransNormerLLM token mixer (`NormLinearAttention` of the official Hugging Face code):
 * `qkvu_proj` Linear(C → 4·hidden, no bias) → q, k, v, u; the feature map ("swish") on q and k;
 * LRPE on q and k where the layer uses it (`lrpe.theta`); lightning attention with the layer's
 * released decay; SRMSNorm (or LayerNorm `norm.*`) over all heads; the gate u ⊙ ·; `out_proj`
 * Linear(hidden → C, no bias). Causal mixers decode with an f32 state [B, H, d_qk, d] per layer:
 * O(d_qk·d) per head and token, whatever the context length.
 *
 * @module
 */
import { ConfigError, DeviceUnavailableError, DTypeError, ShapeError } from "../../core/errors.ts";
import type { MixerCost, MixerSpec, MixerState, TokenMixer } from "../../core/plugin.ts";
import { matmul } from "../../core/ops.ts";
import { randn } from "../../core/random.ts";
import { fmtShape, full, type Tensor, tensor, zeros } from "../../core/tensor.ts";
import { activation, layerNormRows, srmsNormRows } from "./_dense.ts";
import type { Geometry } from "./_geometry.ts";
import { bidirectionalScan, causalBlocked, recurrentSteps } from "./_kernels.ts";
import { type LightningConfig, parseLightningConfig, usesLrpe } from "./config.ts";
import { layerDecayRates } from "./decay.ts";
import { lrpeRows, lrpeTheta } from "./lrpe.ts";
import { LightningState } from "./reference.ts";

const SOURCE = "lightning mixer";
/** SRMSNorm eps of the official `SimpleRMSNorm`; LayerNorm keeps PyTorch's 1e-5. */
const SRMS_EPS = 1e-6;
const LAYER_NORM_EPS = 1e-5;
/** Std of the official `_init_weights` for Linear weights (`init_std`). */
const INIT_STD = 0.02;

/** Sizes of one mixer. */
interface Layout {
  dim: number;
  hidden: number;
  heads: number;
  /** Per-head width of q, k, v, u. */
  headDim: number;
  /** Per-head width of q, k after LRPE (2·headDim with LRPE). */
  qkDim: number;
  lrpe: boolean;
}

function layoutOf(spec: MixerSpec, config: LightningConfig): Layout {
  const { dim, heads } = spec;
  const hidden = config.hiddenDim ?? dim;
  if (!Number.isInteger(heads) || heads < 1) {
    throw new ConfigError(SOURCE, "heads", `must be a positive integer, got ${heads}`);
  }
  if (spec.kvHeads !== undefined && spec.kvHeads !== heads) {
    throw new ConfigError(
      SOURCE,
      "kvHeads",
      `lightning attention has no grouped keys; got ${spec.kvHeads} for ${heads} heads`,
    );
  }
  if (hidden % heads !== 0) throw new ConfigError(SOURCE, "hiddenDim", `${hidden} is not divisible by ${heads} heads`);
  const lrpe = usesLrpe(config, spec.layer, spec.layers, SOURCE);
  // the official Lrpe sizes θ by dim/heads while q, k have hidden/heads features
  if (lrpe && hidden !== dim) {
    throw new ConfigError(SOURCE, "hiddenDim", `LRPE needs hiddenDim = dim (${dim}), got ${hidden}`);
  }
  const headDim = hidden / heads;
  return { dim, hidden, heads, headDim, qkDim: lrpe ? 2 * headDim : headDim, lrpe };
}

function createParameters(spec: MixerSpec, config: LightningConfig, layout: Layout): Map<string, Tensor> {
  const { dim, hidden, heads, headDim } = layout;
  const seed = (i: number) => (spec.seed * 8 + i) >>> 0;
  const params = new Map<string, Tensor>([
    ["qkvu_proj.weight", randn([4 * hidden, dim], { seed: seed(0), std: INIT_STD, dtype: spec.dtype })],
    ["out_proj.weight", randn([dim, hidden], { seed: seed(1), std: INIT_STD, dtype: spec.dtype })],
  ]);
  if (layout.lrpe) params.set("lrpe.theta", lrpeTheta(heads, headDim, spec.dtype));
  if (config.normType === "layernorm") {
    params.set("norm.weight", full([hidden], 1, spec.dtype));
    params.set("norm.bias", zeros([hidden], spec.dtype));
  }
  return params;
}

/** Parameters and forward FLOPs of one mixer over `tokens` tokens (blocked causal form). */
export function lightningMixerCost(spec: MixerSpec, rawConfig: unknown, tokens: number): MixerCost {
  const config = parseLightningConfig(rawConfig, SOURCE);
  const layout = layoutOf(spec, config);
  const { dim, hidden, heads, headDim, qkDim } = layout;
  const params = 5 * hidden * dim + (layout.lrpe ? hidden : 0) + (config.normType === "layernorm" ? 2 * hidden : 0);
  const intraPairs = (Math.min(config.blockSize, tokens) + 1) / 2;
  const attention = tokens * heads * (4 * qkDim * headDim + 2 * intraPairs * (qkDim + headDim));
  return { params, flops: 2 * tokens * dim * 5 * hidden + attention };
}

/** Creates a lightning (TransNormerLLM) token mixer for `spec` with a (raw or parsed) config. */
export function createLightningMixer(spec: MixerSpec, rawConfig: unknown): TokenMixer {
  if (spec.device !== "cpu") throw new DeviceUnavailableError(spec.device, "the lightning plugin has CPU ops only");
  const config = parseLightningConfig(rawConfig, SOURCE);
  const layout = layoutOf(spec, config);
  const rates = layerDecayRates(spec.heads, spec.layer, spec.layers);
  const parameters = createParameters(spec, config, layout);
  const act = activation(config.actFun);
  const states = new WeakSet<LightningState>();
  const { dim, hidden, heads, headDim, qkDim } = layout;

  const weight = (name: string): Float32Array => parameters.get(name)!.toFloat32Array();

  const checkInput = (op: string, x: Tensor): [number, number] => {
    if (x.ndim !== 3 || x.shape[2] !== dim) {
      throw new ShapeError(`${SOURCE}.${op}`, `x must be [B, N, ${dim}]; got ${fmtShape(x.shape)}`);
    }
    if (x.dtype !== spec.dtype) {
      throw new DTypeError(`${SOURCE}.${op}`, `x must be ${spec.dtype} like the mixer's parameters, got ${x.dtype}`);
    }
    if (x.shape[0] === 0 || x.shape[1] === 0) {
      throw new ShapeError(`${SOURCE}.${op}`, `x is empty: ${fmtShape(x.shape)}`);
    }
    return [x.shape[0], x.shape[1]];
  };

  /** Projections, feature map and LRPE: q, k [B, H, N, qkDim], v [B, H, N, headDim], u [B·N, hidden]. */
  const project = (x: Tensor, batch: number, length: number, offset: number) => {
    const rows = batch * length;
    using projected = matmul(x, parameters.get("qkvu_proj.weight")!, { transB: true });
    const qkvu = projected.toFloat32Array();
    const split = (part: number, map?: (v: number) => number): Float32Array => {
      const out = new Float32Array(rows * hidden);
      for (let b = 0; b < batch; b++) {
        for (let t = 0; t < length; t++) {
          const src = (b * length + t) * 4 * hidden + part * hidden;
          for (let h = 0; h < heads; h++) {
            const dst = ((b * heads + h) * length + t) * headDim;
            for (let c = 0; c < headDim; c++) {
              const value = qkvu[src + h * headDim + c];
              out[dst + c] = map === undefined ? value : map(value);
            }
          }
        }
      }
      return out;
    };
    let q = split(0, act);
    let k = split(1, act);
    const v = split(2);
    const u = new Float32Array(rows * hidden);
    for (let r = 0; r < rows; r++) u.set(qkvu.subarray(r * 4 * hidden + 3 * hidden, (r + 1) * 4 * hidden), r * hidden);
    if (layout.lrpe) {
      const theta = weight("lrpe.theta");
      q = lrpeRows(q, batch, heads, length, headDim, theta, offset);
      k = lrpeRows(k, batch, heads, length, headDim, theta, offset);
    }
    return { q, k, v, u };
  };

  /** Merges heads, norms over all of them, gates with u and projects back to C. */
  const finish = (o: Float32Array, u: Float32Array, batch: number, length: number, dtype: Tensor["dtype"]): Tensor => {
    const rows = batch * length;
    const merged = new Float32Array(rows * hidden);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let t = 0; t < length; t++) {
          const src = ((b * heads + h) * length + t) * headDim;
          merged.set(o.subarray(src, src + headDim), (b * length + t) * hidden + h * headDim);
        }
      }
    }
    if (config.normType === "layernorm") {
      layerNormRows(merged, hidden, weight("norm.weight"), weight("norm.bias"), LAYER_NORM_EPS);
    } else {
      srmsNormRows(merged, hidden, SRMS_EPS);
    }
    for (let i = 0; i < merged.length; i++) merged[i] *= u[i];
    using gated = tensor(merged, { shape: [batch, length, hidden], dtype });
    return matmul(gated, parameters.get("out_proj.weight")!, { transB: true });
  };

  const geometry = (batch: number, length: number): Geometry => ({ batch, heads, length, d: qkDim, e: headDim });

  const mixer: TokenMixer = {
    parameters,
    forward(x: Tensor): Tensor {
      const [batch, length] = checkInput("forward", x);
      const { q, k, v, u } = project(x, batch, length, 0);
      const g = geometry(batch, length);
      const o = spec.causal ? causalBlocked(g, q, k, v, rates, config.blockSize) : bidirectionalScan(g, q, k, v, rates);
      return finish(o, u, batch, length, x.dtype);
    },
    [Symbol.dispose](): void {
      for (const p of parameters.values()) p.dispose();
      parameters.clear();
    },
  };
  if (!spec.causal) return mixer;

  mixer.createState = (batch: number): MixerState => {
    const state = new LightningState(batch, heads, qkDim, headDim);
    states.add(state);
    return state;
  };
  mixer.step = (x: Tensor, state: MixerState): Tensor => {
    const [batch, length] = checkInput("step", x);
    if (!(state instanceof LightningState) || !states.has(state)) {
      throw new ShapeError(`${SOURCE}.step`, "the state was not created by this mixer's createState");
    }
    if (state.batch !== batch) {
      throw new ShapeError(
        `${SOURCE}.step`,
        `the state holds ${state.batch} sequences, x ${fmtShape(x.shape)} has ${batch}`,
      );
    }
    if (state.kv.length === 0) throw new ShapeError(`${SOURCE}.step`, "the state was disposed");
    // LRPE positions continue from what this sequence's state has consumed (0 for a fresh state)
    const { q, k, v, u } = project(x, batch, length, state.length);
    const o = recurrentSteps(geometry(batch, length), q, k, v, rates, state.kv);
    state.advance(length);
    return finish(o, u, batch, length, x.dtype);
  };
  return mixer;
}
