/**
 * Seeded initialisation of a layer's parameters, as timm initialises its Linear layers (weights
 * trunc-normal with std 0.02, biases 0), placed on the layer's device.
 *
 * @module
 */
import { toDevice } from "../ops.ts";
import type { MixerSpec } from "../plugin.ts";
import { Rng } from "../random.ts";
import { full, numel, type Tensor, tensor } from "../tensor.ts";

/** One parameter to create: its checkpoint name, shape and starting values. */
export interface ParameterSpec {
  /** Name relative to the layer, as the official checkpoints name it (`qkv.weight`). */
  name: string;
  /** Shape of the tensor. */
  shape: readonly number[];
  /** `truncNormal`: N(0, 0.02²) truncated at ±2 std; `zeros` and `ones`: constants. */
  init: "truncNormal" | "zeros" | "ones";
}

/** Std of timm's trunc_normal_ for Linear weights. */
const weightStd = 0.02;

function truncNormal(rng: Rng, shape: readonly number[]): Float32Array {
  return rng.fillTruncatedNormal(new Float32Array(numel(shape)), weightStd);
}

/**
 * Creates `parameters` in order, in `spec.dtype` on `spec.device`. One generator seeded with
 * `spec.seed` feeds the trunc-normal tensors in list order, so constants never shift the draws.
 */
export function initParameters(spec: MixerSpec, parameters: readonly ParameterSpec[]): Map<string, Tensor> {
  const rng = new Rng(spec.seed);
  const created = new Map<string, Tensor>();
  for (const p of parameters) {
    const host = p.init === "truncNormal"
      ? tensor(truncNormal(rng, p.shape), { shape: p.shape, dtype: spec.dtype })
      : full(p.shape, p.init === "ones" ? 1 : 0, spec.dtype);
    if (spec.device === "cpu") {
      created.set(p.name, host);
    } else {
      using _host = host;
      created.set(p.name, toDevice(host, spec.device));
    }
  }
  return created;
}
