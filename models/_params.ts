// Parameter creation and the small layers every architecture shares (linear, norms, MLPs),
// written over core ops so they run on whichever device the parameters live on.
import { gelu, layerNorm, linear as linearOp, mul, rmsNorm, silu, toDevice } from "../core/ops.ts";
import { Rng } from "../core/random.ts";
import type { DType } from "../core/dtype.ts";
import { type Device, numel, type Tensor, tensor } from "../core/tensor.ts";

/** Builds the named parameters of a model: seeded initialisers, then moved to the device. */
export class ParamBuilder {
  readonly parameters: ParameterTree = new ParameterTree();
  readonly #rng: Rng;
  constructor(readonly dtype: DType, readonly device: Device, seed: number) {
    this.#rng = new Rng(seed);
  }

  #put(name: string, values: Float32Array, shape: readonly number[]): Tensor {
    const host = tensor(values, { shape, dtype: this.dtype });
    const placed = this.device === "cpu" ? host : toDevice(host, this.device);
    if (placed !== host) host.dispose();
    this.parameters.set(name, placed);
    return placed;
  }

  /** Truncated normal (±2σ), timm's default for linear and embedding weights. */
  truncNormal(name: string, shape: readonly number[], std = 0.02): Tensor {
    return this.#put(name, this.#rng.fillTruncatedNormal(new Float32Array(numel(shape)), std), shape);
  }

  /** A constant tensor (zeros for biases, ones for norm weights, γ for LayerScale). */
  constant(name: string, shape: readonly number[], value: number): Tensor {
    return this.#put(name, new Float32Array(numel(shape)).fill(value), shape);
  }

  /** A Linear layer's `weight` [out, in] and optional `bias` [out]. */
  linear(name: string, inFeatures: number, outFeatures: number, bias: boolean): void {
    this.truncNormal(`${name}.weight`, [outFeatures, inFeatures]);
    if (bias) this.constant(`${name}.bias`, [outFeatures], 0);
  }

  /** A LayerNorm's `weight` and `bias`. */
  layerNorm(name: string, dim: number): void {
    this.constant(`${name}.weight`, [dim], 1);
    this.constant(`${name}.bias`, [dim], 0);
  }
}

/** Reads parameters by name; a missing one is a programming error, reported by name. */
export function param(parameters: Map<string, Tensor>, name: string): Tensor {
  const t = parameters.get(name);
  if (t === undefined) throw new Error(`missing parameter ${name}`);
  return t;
}

/** `x @ Wᵀ + b` for PyTorch's Linear layout (weight [out, in]), the bias added in the product's epilogue. */
export function linear(parameters: Map<string, Tensor>, name: string, x: Tensor): Tensor {
  return linearOp(x, param(parameters, `${name}.weight`), { bias: parameters.get(`${name}.bias`) });
}

/** LayerNorm with the parameters at `name`. */
export function layerNormAt(parameters: Map<string, Tensor>, name: string, x: Tensor, eps: number): Tensor {
  return layerNorm(x, param(parameters, `${name}.weight`), parameters.get(`${name}.bias`), eps);
}

/** RMSNorm with the weight at `name`, or SRMSNorm (no weight) when it has none. */
export function rmsNormAt(parameters: Map<string, Tensor>, name: string, x: Tensor, eps: number): Tensor {
  return rmsNorm(x, parameters.get(`${name}.weight`), eps);
}

/** ViT MLP: fc2(GELU(fc1(x))); the GELU is the exact erf form, so it is not the GEMM's tanh epilogue. */
export function geluMlp(parameters: Map<string, Tensor>, name: string, x: Tensor): Tensor {
  using h = linear(parameters, `${name}.fc1`, x);
  using a = gelu(h);
  return linear(parameters, `${name}.fc2`, a);
}

/** Llama MLP (SwiGLU): down(SiLU(gate(x)) · up(x)). */
export function swiGlu(parameters: Map<string, Tensor>, name: string, x: Tensor): Tensor {
  using g = linear(parameters, `${name}.gate_proj`, x);
  using a = silu(g);
  using u = linear(parameters, `${name}.up_proj`, x);
  using h = mul(a, u);
  return linear(parameters, `${name}.down_proj`, h);
}

/** TransNormerLLM channel mixer (SGLU, no activation): l3(l1(x) · l2(x)). */
export function sGlu(parameters: Map<string, Tensor>, name: string, x: Tensor): Tensor {
  using a = linear(parameters, `${name}.l1`, x);
  using b = linear(parameters, `${name}.l2`, x);
  using h = mul(a, b);
  return linear(parameters, `${name}.l3`, h);
}

/**
 * A model's parameter map that also holds its mixers' maps: replacing `blocks.3.attn.qkv.weight`
 * here replaces `qkv.weight` in that mixer, so checkpoint loaders see one flat namespace.
 */
export class ParameterTree extends Map<string, Tensor> {
  readonly #mounts: [string, Map<string, Tensor>][] = [];

  /** Adds a child map (a mixer's parameters) under `prefix.`. */
  mount(prefix: string, child: Map<string, Tensor>): void {
    this.#mounts.push([`${prefix}.`, child]);
    for (const [name, t] of child) super.set(`${prefix}.${name}`, t);
  }

  /** Sets the entry here and in the child map that owns the name, if any. */
  override set(name: string, value: Tensor): this {
    super.set(name, value);
    for (const [prefix, child] of this.#mounts) {
      if (name.startsWith(prefix)) child.set(name.slice(prefix.length), value);
    }
    return this;
  }
}
