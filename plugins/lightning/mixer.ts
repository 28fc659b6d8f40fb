/**
 * The TransNormerLLM token mixer (`NormLinearAttention` of the official Hugging Face code):
 * `qkvu_proj` Linear(C → 4·hidden, no bias) → q, k, v, u; the feature map ("swish") on q and k;
 * LRPE on q and k where the layer uses it (`lrpe.theta`); lightning attention with the layer's
 * released decay; SRMSNorm (or LayerNorm `norm.*`) over all heads; the gate u ⊙ ·; `out_proj`
 * Linear(hidden → C, no bias). Causal mixers decode with an f32 state [B, H, d_qk, d] per layer:
 * O(d_qk·d) per head and token, whatever the context length. On CUDA in bf16/f16 the attention runs
 * on the plugin's fused kernels (`_fused.ts`), reading q, k, v straight out of the projection and
 * writing the merged heads; everywhere else it is composed of core ops (`_op_attention.ts`).
 *
 * @module
 */
import { ConfigError, DTypeError, ShapeError } from "../../core/errors.ts";
import type { MixerCost, MixerSpec, MixerState, PluginKernels, TokenMixer } from "../../core/plugin.ts";
import {
  add,
  affine,
  cast,
  concat,
  cos,
  exp,
  layerNorm,
  matmul,
  mul,
  narrow,
  permute,
  relu,
  rmsNorm,
  sigmoid,
  silu,
  sin,
  toDevice,
} from "../../core/ops.ts";
import { randn } from "../../core/random.ts";
import { fmtShape, full, type Tensor, tensor, zeros } from "../../core/tensor.ts";
import { FusedLightning, fusedSupports, type Operand } from "./_fused.ts";
import { bidirectionalAttention, causalAttention, DecayTables } from "./_op_attention.ts";
import { type Activation, type LightningConfig, parseLightningConfig, usesLrpe } from "./config.ts";
import { layerDecayRates } from "./decay.ts";
import { lrpeTheta } from "./lrpe.ts";

const SOURCE = "lightning mixer";
/** SRMSNorm eps of the official `SimpleRMSNorm`; LayerNorm keeps PyTorch's 1e-5. */
const SRMS_EPS = 1e-6;
const LAYER_NORM_EPS = 1e-5;
/** Std of the official `_init_weights` for Linear weights (`init_std`). */
const INIT_STD = 0.02;
/** Up to this many new tokens a decode step runs the recurrent kernel; longer ones the blocked one. */
const RECURRENT_TOKENS = 16;

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
  const onDevice = (host: Tensor): Tensor => {
    if (spec.device === "cpu") return host;
    using _host = host;
    return toDevice(host, spec.device);
  };
  const params = new Map<string, Tensor>([
    ["qkvu_proj.weight", onDevice(randn([4 * hidden, dim], { seed: seed(0), std: INIT_STD, dtype: spec.dtype }))],
    ["out_proj.weight", onDevice(randn([dim, hidden], { seed: seed(1), std: INIT_STD, dtype: spec.dtype }))],
  ]);
  if (layout.lrpe) params.set("lrpe.theta", onDevice(lrpeTheta(heads, headDim, spec.dtype)));
  if (config.normType === "layernorm") {
    params.set("norm.weight", onDevice(full([hidden], 1, spec.dtype)));
    params.set("norm.bias", onDevice(zeros([hidden], spec.dtype)));
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

/** Decode state: the f32 attention state [B, H, d_qk, d] (absent before the first token) and the position. */
class LightningMixerState implements MixerState {
  kv: Tensor | undefined;
  length = 0;
  disposed = false;
  constructor(readonly batch: number) {}
  [Symbol.dispose](): void {
    this.kv?.dispose();
    this.kv = undefined;
    this.disposed = true;
  }
}

/** The q/k feature map from core ops; ELU as relu(x) + exp(−relu(−x)) − 1 (exp(min(x, 0)) never overflows). */
function featureMap(kind: Activation): (x: Tensor) => Tensor {
  switch (kind) {
    case "swish":
    case "silu":
      return silu;
    case "relu":
      return relu;
    case "sigmoid":
      return sigmoid;
    case "elu":
    case "1+elu":
      return (x) => {
        using positive = relu(x);
        using flipped = affine(x, -1);
        using negativePart = relu(flipped);
        using minimum = affine(negativePart, -1);
        using expMin = exp(minimum);
        using sum = add(positive, expMin);
        return kind === "elu" ? affine(sum, 1, -1) : sum.reshape(sum.shape);
      };
  }
}

/** The fused kernels with this mixer's decay rates on its device, when they take its sizes. */
function fusedFor(spec: MixerSpec, layout: Layout, rates: Float64Array, kernels?: PluginKernels) {
  if (kernels === undefined || spec.device === "cpu" || !fusedSupports(spec.dtype, layout.qkDim, layout.headDim)) {
    return undefined;
  }
  using host = tensor(Float32Array.from(rates), { shape: [rates.length] });
  return new FusedLightning(kernels, toDevice(host, spec.device));
}

/**
 * Creates a lightning (TransNormerLLM) token mixer for `spec` with a (raw or parsed) config; with
 * `kernels` (CUDA) and a bf16/f16 dtype its attention runs on the plugin's fused kernels, where
 * `blockSize` changes nothing (the kernels block by 64 tokens; every block size gives the same math).
 */
export function createLightningMixer(spec: MixerSpec, rawConfig: unknown, kernels?: PluginKernels): TokenMixer {
  const config = parseLightningConfig(rawConfig, SOURCE);
  const layout = layoutOf(spec, config);
  const rates = layerDecayRates(spec.heads, spec.layer, spec.layers);
  const tables = new DecayTables(rates, spec.dtype, spec.device);
  const parameters = createParameters(spec, config, layout);
  const fused = fusedFor(spec, layout, rates, kernels);
  const act = featureMap(config.actFun);
  const states = new WeakSet<LightningMixerState>();
  const { dim, hidden, heads } = layout;
  const param = (name: string): Tensor => {
    const t = parameters.get(name);
    if (t === undefined) throw new ShapeError(SOURCE, `parameter ${name} was removed`);
    return t;
  };

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

  /** [B, N, hidden] → [B, H, N, hidden/H]. */
  const splitHeads = (x: Tensor): Tensor => {
    const [b, n] = x.shape;
    using view = x.reshape([b, n, heads, hidden / heads]);
    return permute(view, [0, 2, 1, 3]);
  };

  /** LRPE on x [B, H, N, d] for positions offset … offset + N − 1: [x·cos(θt), x·sin(θt)]. */
  const lrpe = (x: Tensor, offset: number): Tensor => {
    const length = x.shape[2];
    const positions = Float32Array.from({ length }, (_, t) => offset + t);
    using hostPositions = tensor(positions, { shape: [length, 1] });
    using place = spec.device === "cpu" ? undefined : toDevice(hostPositions, spec.device);
    const theta = param("lrpe.theta");
    using theta32 = theta.dtype === "f32" ? undefined : cast(theta, "f32");
    // the angle θ·t in f32, as the official code forms it
    using angle = mul(theta32 ?? theta, place ?? hostPositions);
    using cos32 = cos(angle);
    using sin32 = sin(angle);
    using cosT = x.dtype === "f32" ? undefined : cast(cos32, x.dtype);
    using sinT = x.dtype === "f32" ? undefined : cast(sin32, x.dtype);
    using real = mul(x, cosT ?? cos32);
    using imaginary = mul(x, sinT ?? sin32);
    return concat([real, imaginary], 3);
  };

  /** Projections, feature map and LRPE: q, k [B, H, N, qkDim], v [B, H, N, headDim], u [B, N, hidden]. */
  const project = (x: Tensor, offset: number): [Tensor, Tensor, Tensor, Tensor] => {
    using qkvu = matmul(x, param("qkvu_proj.weight"), { transB: true });
    using qRaw = narrow(qkvu, 2, 0, hidden);
    using kRaw = narrow(qkvu, 2, hidden, hidden);
    using vRaw = narrow(qkvu, 2, 2 * hidden, hidden);
    using qAct = act(qRaw);
    using kAct = act(kRaw);
    const u = narrow(qkvu, 2, 3 * hidden, hidden);
    const v = splitHeads(vRaw);
    let q = splitHeads(qAct);
    let k = splitHeads(kAct);
    if (layout.lrpe) {
      using qPlain = q;
      using kPlain = k;
      q = lrpe(qPlain, offset);
      k = lrpe(kPlain, offset);
    }
    return [q, k, v, u];
  };

  /** Norms the merged heads [B, N, hidden] over all of them, gates with u and projects back to C. */
  const finishMerged = (merged: Tensor, u: Tensor): Tensor => {
    using normed = config.normType === "layernorm"
      ? layerNorm(merged, param("norm.weight"), param("norm.bias"), LAYER_NORM_EPS)
      : rmsNorm(merged, undefined, SRMS_EPS);
    using gated = mul(normed, u);
    return matmul(gated, param("out_proj.weight"), { transB: true });
  };

  /** finishMerged of o [B, H, N, e] after merging its heads. */
  const finish = (o: Tensor, u: Tensor): Tensor => {
    const [b, , n] = o.shape;
    using tokensFirst = permute(o, [0, 2, 1, 3]);
    using merged = tokensFirst.reshape([b, n, hidden]);
    return finishMerged(merged, u);
  };

  /**
   * q and k operands of the fused kernels from qkvu [B, N, 4·hidden]: one feature map over the
   * q|k columns read in place ([B, N, 2·hidden]); on LRPE layers q, k [B, H, N, 2·headDim] from
   * core ops. Returns the operands and the tensors that hold them.
   */
  const fusedQk = (qkvu: Tensor, offset: number): [Operand, Operand, Tensor[]] => {
    const n = qkvu.shape[1];
    const e = layout.headDim;
    if (!layout.lrpe) {
      using raw = narrow(qkvu, 2, 0, 2 * hidden);
      const qk = act(raw);
      const strides = [n * 2 * hidden, e, 2 * hidden] as const;
      return [{ tensor: qk, offset: 0, strides }, { tensor: qk, offset: hidden, strides }, [qk]];
    }
    using qRaw = narrow(qkvu, 2, 0, hidden);
    using kRaw = narrow(qkvu, 2, hidden, hidden);
    using qAct = act(qRaw);
    using kAct = act(kRaw);
    using qHeads = splitHeads(qAct);
    using kHeads = splitHeads(kAct);
    const q = lrpe(qHeads, offset);
    let k: Tensor;
    try {
      k = lrpe(kHeads, offset);
    } catch (error) {
      q.dispose();
      throw error;
    }
    const d = layout.qkDim;
    const strides = [heads * n * d, n * d, d] as const;
    return [{ tensor: q, offset: 0, strides }, { tensor: k, offset: 0, strides }, [q, k]];
  };

  /**
   * The whole mixer on the fused kernels: projection, feature map (and LRPE), attention written
   * straight into merged heads, norm, gate, out projection. `state`: a decode state to continue
   * and advance (causal only).
   */
  const fusedForward = (kernel: FusedLightning, x: Tensor, state?: LightningMixerState): Tensor => {
    const [b, n] = x.shape;
    const e = layout.headDim;
    using qkvu = matmul(x, param("qkvu_proj.weight"), { transB: true });
    const [q, k, owned] = fusedQk(qkvu, state?.length ?? 0);
    try {
      const wide = 4 * hidden;
      const v: Operand = { tensor: qkvu, offset: 2 * hidden, strides: [n * wide, e, wide] };
      using merged = kernel.kernels.empty([b, n, hidden], spec.dtype);
      const o: Operand = { tensor: merged, offset: 0, strides: [n * hidden, e, hidden] };
      const sizes = { batch: b, heads, length: n, d: layout.qkDim, e };
      if (!spec.causal) {
        kernel.forward(q, k, v, o, sizes, { bidirectional: true });
      } else if (state === undefined) {
        kernel.forward(q, k, v, o, sizes, {});
      } else if (state.kv === undefined) {
        const kv = kernel.kernels.empty([b, heads, layout.qkDim, e], "f32");
        try {
          kernel.forward(q, k, v, o, sizes, { stateOut: kv });
        } catch (error) {
          kv.dispose();
          throw error;
        }
        state.kv = kv;
      } else if (n <= RECURRENT_TOKENS) {
        kernel.step(q, k, v, o, sizes, state.kv);
      } else {
        kernel.forward(q, k, v, o, sizes, { stateIn: state.kv, stateOut: state.kv });
      }
      if (state !== undefined) state.length += n;
      using u = narrow(qkvu, 2, 3 * hidden, hidden);
      return finishMerged(merged, u);
    } finally {
      for (const t of owned) t.dispose();
    }
  };

  const mixer: TokenMixer = {
    parameters,
    forward(x: Tensor): Tensor {
      checkInput("forward", x);
      if (fused !== undefined) return fusedForward(fused, x);
      const [q, k, v, u] = project(x, 0);
      using _q = q, _k = k, _v = v, _u = u;
      if (!spec.causal) {
        using o = bidirectionalAttention(q, k, v, tables);
        return finish(o, u);
      }
      const [o, kv] = causalAttention(q, k, v, undefined, tables, config.blockSize);
      using _o = o, _kv = kv;
      return finish(o, u);
    },
    [Symbol.dispose](): void {
      for (const p of parameters.values()) p.dispose();
      parameters.clear();
      tables[Symbol.dispose]();
      fused?.rates.dispose();
    },
  };
  if (!spec.causal) return mixer;

  mixer.createState = (batch: number): MixerState => {
    if (!Number.isInteger(batch) || batch < 1) {
      throw new ConfigError(`${SOURCE}.createState`, "batch", `must be a positive integer, got ${batch}`);
    }
    const state = new LightningMixerState(batch);
    states.add(state);
    return state;
  };
  mixer.step = (x: Tensor, state: MixerState): Tensor => {
    const [batch, length] = checkInput("step", x);
    if (!(state instanceof LightningMixerState) || !states.has(state)) {
      throw new ShapeError(`${SOURCE}.step`, "the state was not created by this mixer's createState");
    }
    if (state.batch !== batch) {
      throw new ShapeError(
        `${SOURCE}.step`,
        `the state holds ${state.batch} sequences, x ${fmtShape(x.shape)} has ${batch}`,
      );
    }
    if (state.disposed) throw new ShapeError(`${SOURCE}.step`, "the state was disposed");
    if (fused !== undefined) return fusedForward(fused, x, state);
    // LRPE positions continue from what this sequence's state has consumed (0 for a fresh state)
    const [q, k, v, u] = project(x, state.length);
    using _q = q, _k = k, _v = v, _u = u;
    const [o, kv] = causalAttention(q, k, v, state.kv, tables, config.blockSize);
    using _o = o;
    state.kv?.dispose();
    state.kv = kv;
    state.length += length;
    return finish(o, u);
  };
  return mixer;
}
