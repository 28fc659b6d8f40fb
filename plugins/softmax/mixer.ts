/**
 * The softmax-attention token mixer: fused `qkv` Linear → softmax(q kᵀ·d^-½ − ALiBi + mask) v →
 * `proj` Linear, as timm's Attention. Causal mixers keep a KV cache for decoding.
 *
 * @module
 */
import { alibiSlopes } from "../../core/alibi.ts";
import { DeviceUnavailableError, DTypeError, ShapeError } from "../../core/errors.ts";
import { add, concat, matmul, narrow, permute, scale, softmax } from "../../core/ops.ts";
import type { MixerSpec, MixerState, TokenMixer } from "../../core/plugin.ts";
import { fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import { type MixerGeometry, mixerGeometry, mixerParameters } from "./_mixer_params.ts";
import { parseSoftmaxConfig, type SoftmaxConfig } from "./config.ts";

/** Keys and values of every token seen so far, [B, Hkv, L, d] each. */
class KvCache implements MixerState {
  k: Tensor | undefined;
  v: Tensor | undefined;
  constructor(readonly owner: object, readonly batch: number) {}
  get length(): number {
    return this.k === undefined ? 0 : this.k.shape[2];
  }
  [Symbol.dispose](): void {
    this.k?.dispose();
    this.v?.dispose();
    this.k = this.v = undefined;
  }
}

function linear(x: Tensor, weight: Tensor, bias: Tensor | undefined): Tensor {
  const y = matmul(x, weight, { transB: true });
  if (bias === undefined) return y;
  using unbiased = y;
  return add(unbiased, bias);
}

/**
 * Score offsets [1, Hkv, group·Nq, Nk] (the [1, H, Nq, Nk] layout, grouped for GQA): −slope·|distance|
 * with bottom-right aligned distance i + Nk − Nq − j, and −∞ where causal masking hides the key.
 */
function scoreOffsets(
  geo: MixerGeometry,
  causal: boolean,
  slopes: Float64Array | undefined,
  nq: number,
  nk: number,
  dtype: Tensor["dtype"],
): Tensor {
  const values = new Float32Array(geo.heads * nq * nk);
  for (let h = 0; h < geo.heads; h++) {
    const slope = slopes === undefined ? 0 : slopes[h];
    for (let i = 0; i < nq; i++) {
      for (let j = 0; j < nk; j++) {
        const distance = i + nk - nq - j;
        values[(h * nq + i) * nk + j] = causal && distance < 0 ? -Infinity : -slope * Math.abs(distance);
      }
    }
  }
  return tensor(values, { shape: [1, geo.kvHeads, geo.group * nq, nk], dtype });
}

/** Creates a softmax-attention mixer for `spec` with a (validated or raw) softmax config. */
export function createSoftmaxMixer(spec: MixerSpec, rawConfig: unknown): TokenMixer {
  if (spec.device !== "cpu") throw new DeviceUnavailableError(spec.device, "the softmax plugin has CPU ops only");
  const config: SoftmaxConfig = parseSoftmaxConfig(rawConfig);
  const geo = mixerGeometry("softmax mixer", spec);
  const parameters = mixerParameters(spec, geo);
  const slopes = config.alibi ? alibiSlopes(geo.heads) : undefined;
  const param = (name: string): Tensor => parameters.get(name)!;
  const optional = (name: string): Tensor | undefined => parameters.get(name);

  const checkInput = (op: string, x: Tensor): void => {
    if (x.ndim !== 3 || x.shape[2] !== spec.dim || x.shape[0] === 0 || x.shape[1] === 0) {
      throw new ShapeError(op, `x must be [B, N, ${spec.dim}] with B, N > 0; got ${fmtShape(x.shape)}`);
    }
    if (x.dtype !== spec.dtype) throw new DTypeError(op, `x must be ${spec.dtype} like the parameters; got ${x.dtype}`);
  };

  /** x [B, N, C] → q [B, H, N, d], k and v [B, Hkv, N, d]. */
  const project = (x: Tensor): { q: Tensor; k: Tensor; v: Tensor } => {
    const [batch, n] = x.shape;
    using qkv = linear(x, param("qkv.weight"), optional("qkv.bias"));
    const split = (start: number, heads: number): Tensor => {
      using part = narrow(qkv, 2, start * geo.headDim, heads * geo.headDim);
      using grid = part.reshape([batch, n, heads, geo.headDim]);
      return permute(grid, [0, 2, 1, 3]);
    };
    return { q: split(0, geo.heads), k: split(geo.heads, geo.kvHeads), v: split(geo.heads + geo.kvHeads, geo.kvHeads) };
  };

  /** Attention of q [B, H, Nq, d] over k, v [B, Hkv, Nk, d], then `proj`: [B, Nq, C]. */
  const attend = (q: Tensor, k: Tensor, v: Tensor): Tensor => {
    const [batch, , nq] = q.shape;
    const nk = k.shape[2];
    using grouped = q.reshape([batch, geo.kvHeads, geo.group * nq, geo.headDim]);
    using dots = matmul(grouped, k, { transB: true });
    using scaled = scale(dots, 1 / Math.sqrt(geo.headDim));
    using offsets = scoreOffsets(geo, spec.causal, slopes, nq, nk, spec.dtype);
    using logits = add(scaled, offsets);
    using weights = softmax(logits, -1);
    using mixed = matmul(weights, v);
    using perHead = mixed.reshape([batch, geo.heads, nq, geo.headDim]);
    using perToken = permute(perHead, [0, 2, 1, 3]);
    using flat = perToken.reshape([batch, nq, geo.heads * geo.headDim]);
    return linear(flat, param("proj.weight"), optional("proj.bias"));
  };

  const mixer: TokenMixer = {
    parameters,
    forward(x: Tensor): Tensor {
      checkInput("softmax mixer forward", x);
      const { q, k, v } = project(x);
      using _q = q, _k = k, _v = v;
      return attend(q, k, v);
    },
    [Symbol.dispose](): void {
      for (const t of parameters.values()) t.dispose();
    },
  };
  if (!spec.causal) return mixer;

  mixer.createState = (batch: number): MixerState => {
    if (!Number.isInteger(batch) || batch < 1) {
      throw new ShapeError("softmax mixer createState", `batch must be a positive integer, got ${batch}`);
    }
    return new KvCache(mixer, batch);
  };
  mixer.step = (x: Tensor, state: MixerState): Tensor => {
    const op = "softmax mixer step";
    if (!(state instanceof KvCache) || state.owner !== mixer) {
      throw new ShapeError(op, "state was not created by this mixer's createState");
    }
    checkInput(op, x);
    if (x.shape[0] !== state.batch) {
      throw new ShapeError(op, `x has batch ${x.shape[0]}, the state was created for ${state.batch}`);
    }
    const { q, k, v } = project(x);
    using _q = q;
    const extend = (cached: Tensor | undefined, fresh: Tensor): Tensor => {
      if (cached === undefined) return fresh;
      using _old = cached, _new = fresh;
      return concat([cached, fresh], 2);
    };
    state.k = extend(state.k, k);
    state.v = extend(state.v, v);
    return attend(q, state.k, state.v);
  };
  return mixer;
}
