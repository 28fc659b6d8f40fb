// Geometry and randomly initialised parameters of the sigmoid mixer, named as the official
// checkpoints name them: qkv.{weight,bias}, proj.{weight,bias}, q_norm/k_norm.{weight,bias}.
import { ConfigError } from "../../core/errors.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { Rng } from "../../core/random.ts";
import { full, type Tensor, tensor, zeros } from "../../core/tensor.ts";

/** Head layout of a mixer. */
export interface MixerGeometry {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Query heads per key/value head. */
  group: number;
}

/** Head layout of `spec`; a width not divisible by the heads, or heads not by kvHeads, is a ConfigError. */
export function mixerGeometry(source: string, spec: MixerSpec): MixerGeometry {
  const heads = spec.heads;
  const kvHeads = spec.kvHeads ?? heads;
  if (!Number.isInteger(heads) || heads < 1 || spec.dim % heads !== 0) {
    throw new ConfigError(source, "heads", `must be a positive divisor of dim ${spec.dim}, got ${heads}`);
  }
  if (!Number.isInteger(kvHeads) || kvHeads < 1 || heads % kvHeads !== 0) {
    throw new ConfigError(source, "kvHeads", `must be a positive divisor of heads ${heads}, got ${kvHeads}`);
  }
  return { heads, kvHeads, headDim: spec.dim / heads, group: heads / kvHeads };
}

/** Normal(0, std²) samples truncated at ±2 std (redrawn), like timm's trunc_normal_ for Linear weights. */
function truncNormal(rng: Rng, shape: number[], std: number, spec: MixerSpec): Tensor {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) {
    let z = rng.normal();
    while (Math.abs(z) > 2) z = rng.normal();
    values[i] = std * z;
  }
  return tensor(values, { shape, dtype: spec.dtype });
}

/** Fresh parameters: Linear weights trunc-normal std 0.02, biases 0, norm weights 1. */
export function mixerParameters(
  spec: MixerSpec,
  geo: MixerGeometry,
  qkNorm: "none" | "rms" | "layer",
): Map<string, Tensor> {
  const rng = new Rng(spec.seed);
  const qkvRows = (geo.heads + 2 * geo.kvHeads) * geo.headDim;
  const params = new Map<string, Tensor>();
  params.set("qkv.weight", truncNormal(rng, [qkvRows, spec.dim], 0.02, spec));
  if (spec.qkvBias) params.set("qkv.bias", zeros([qkvRows], spec.dtype));
  if (qkNorm !== "none") {
    for (const name of ["q_norm", "k_norm"]) {
      params.set(`${name}.weight`, full([geo.headDim], 1, spec.dtype));
      if (qkNorm === "layer") params.set(`${name}.bias`, zeros([geo.headDim], spec.dtype));
    }
  }
  params.set("proj.weight", truncNormal(rng, [spec.dim, geo.heads * geo.headDim], 0.02, spec));
  if (spec.qkvBias) params.set("proj.bias", zeros([spec.dim], spec.dtype));
  return params;
}
