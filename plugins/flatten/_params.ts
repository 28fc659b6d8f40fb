// Geometry and randomly initialised parameters of the FLatten mixer, named and shaped as the
// official checkpoints: qkv or q/kv, sr + norm (PVT with spatial reduction), proj, dwc, scale,
// positional_encoding. Init as the official code: Linear weights trunc-normal std 0.02 and zero
// biases (the models' _init_weights), convs with PyTorch's default, scale and encoding zeros.
import { ConfigError } from "../../core/errors.ts";
import { toDevice } from "../../core/ops.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { Rng } from "../../core/random.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import type { FlattenConfig } from "./config.ts";

/** Everything the mixer needs to know about its shapes. */
export interface FlattenGeometry {
  channels: number;
  heads: number;
  headDim: number;
  causal: boolean;
  /** Token grid [h, w] of the vision form; [0, 0] when causal. */
  grid: readonly [number, number];
  /** Keys/values per sequence: h·w, or (h/r)·(w/r) with spatial reduction r; 0 when causal. */
  keys: number;
  srRatio: number;
  kernelSize: number;
  focusingFactor: number;
  projection: "qkv" | "q_kv";
  qkvBias: boolean;
}

const SOURCE = "flatten mixer";

/** Shapes of a mixer from its spec and config; inconsistent values are a ConfigError naming the field. */
export function flattenGeometry(spec: MixerSpec, config: FlattenConfig): FlattenGeometry {
  const { dim: channels, heads } = spec;
  if (!Number.isInteger(heads) || heads < 1 || channels % heads !== 0) {
    throw new ConfigError(SOURCE, "heads", `must be a positive divisor of dim ${channels}, got ${heads}`);
  }
  if ((spec.kvHeads ?? heads) !== heads) {
    throw new ConfigError(
      SOURCE,
      "kvHeads",
      `focused linear attention has no grouped keys (${spec.kvHeads} ≠ ${heads})`,
    );
  }
  if (spec.classToken === true) {
    throw new ConfigError(SOURCE, "classToken", "the official FLatten layers have no class token");
  }
  const base = {
    channels,
    heads,
    headDim: channels / heads,
    causal: spec.causal,
    kernelSize: config.kernelSize,
    focusingFactor: config.focusingFactor,
    qkvBias: spec.qkvBias ?? !spec.causal,
  };
  if (spec.causal) {
    if (config.projection !== "qkv" || config.srRatio !== 1 || config.window !== undefined) {
      throw new ConfigError(SOURCE, "causal", "the causal form uses a fused qkv without srRatio or window");
    }
    return { ...base, grid: [0, 0], keys: 0, srRatio: 1, projection: "qkv" };
  }
  const grid = config.window !== undefined ? [config.window, config.window] as const : spec.grid;
  if (grid === undefined) throw new ConfigError(SOURCE, "grid", "the vision form needs spec.grid or config.window");
  const r = config.srRatio;
  if (grid[0] % r !== 0 || grid[1] % r !== 0) {
    throw new ConfigError(SOURCE, "srRatio", `${r} does not divide the ${grid[0]}×${grid[1]} grid`);
  }
  return { ...base, grid, keys: (grid[0] / r) * (grid[1] / r), srRatio: r, projection: config.projection };
}

/** Fresh parameters for `geo` in spec.dtype on spec.device, drawn from spec.seed. */
export function flattenParameters(spec: MixerSpec, geo: FlattenGeometry): Map<string, Tensor> {
  const rng = new Rng(spec.seed);
  const { channels: c, headDim: d, kernelSize: k } = geo;
  const params = new Map<string, Tensor>();
  const put = (name: string, shape: number[], values: Float32Array) => {
    const host = tensor(values, { shape, dtype: spec.dtype });
    params.set(name, spec.device === "cpu" ? host : toDevice(host, spec.device));
    if (spec.device !== "cpu") host.dispose();
  };
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  // timm's trunc_normal_(std=0.02) keeps its absolute bounds ±2
  const truncNormal = (name: string, shape: number[]) => {
    const values = new Float32Array(size(shape));
    for (let i = 0; i < values.length; i++) {
      let v = 0.02 * rng.normal();
      while (Math.abs(v) > 2) v = 0.02 * rng.normal();
      values[i] = v;
    }
    put(name, shape, values);
  };
  // PyTorch's default conv init: kaiming_uniform(a=√5) gives U(±1/√fan_in), the bias too
  const convUniform = (name: string, shape: number[], fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    put(name, shape, Float32Array.from({ length: size(shape) }, () => (2 * rng.uniform() - 1) * bound));
  };
  const constant = (name: string, shape: number[], value: number) =>
    put(name, shape, new Float32Array(size(shape)).fill(value));
  const linear = (name: string, out: number, bias: boolean) => {
    truncNormal(`${name}.weight`, [out, c]);
    if (bias) constant(`${name}.bias`, [out], 0);
  };

  if (geo.projection === "qkv") linear("qkv", 3 * c, geo.qkvBias);
  else {
    linear("q", c, geo.qkvBias);
    linear("kv", 2 * c, geo.qkvBias);
  }
  linear("proj", c, true);
  if (geo.srRatio > 1) {
    const r = geo.srRatio;
    convUniform("sr.weight", [c, c, r, r], c * r * r);
    convUniform("sr.bias", [c], c * r * r);
    constant("norm.weight", [c], 1);
    constant("norm.bias", [c], 0);
  }
  const dwcShape = geo.causal ? [d, 1, k] : [d, 1, k, k];
  const fanIn = geo.causal ? k : k * k;
  convUniform("dwc.weight", dwcShape, fanIn);
  convUniform("dwc.bias", [d], fanIn);
  constant("scale", [1, 1, c], 0);
  if (!geo.causal) constant("positional_encoding", [1, geo.keys, c], 0);
  return params;
}
