// Seeded initialisation of a mixer's parameters, as the official code initialises them: Linear
// weights and the bias tables trunc-normal std .02, Linear biases 0, convolutions PyTorch's
// default U(±1/√fan_in), LayerNorm 1 and 0.
import { toDevice } from "../../core/ops.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { Rng } from "../../core/random.ts";
import { numel, type Tensor, tensor } from "../../core/tensor.ts";

const LINEARS = /^(qkv|q|kv|proj)\./;

/** Creates every named parameter of `shapes` in spec.dtype on spec.device, seeded by spec.seed. */
export function initParameters(shapes: ReadonlyMap<string, number[]>, spec: MixerSpec): Map<string, Tensor> {
  const rng = new Rng(spec.seed);
  const out = new Map<string, Tensor>();
  for (const [name, shape] of shapes) {
    const values = initialValues(name, shape, shapes, rng);
    const host = tensor(values, { shape, dtype: spec.dtype });
    if (spec.device === "cpu") out.set(name, host);
    else {
      out.set(name, toDevice(host, spec.device));
      host.dispose();
    }
  }
  return out;
}

function initialValues(name: string, shape: number[], shapes: ReadonlyMap<string, number[]>, rng: Rng): Float32Array {
  const values = new Float32Array(numel(shape));
  if ((name.endsWith(".bias") && LINEARS.test(name)) || name === "norm.bias") return values;
  if (name === "norm.weight") return values.fill(1);
  if (name.startsWith("dwc.") || name.startsWith("sr.")) {
    const bound = 1 / Math.sqrt(numel(shapes.get(name.replace(/bias$/, "weight"))!.slice(1)));
    for (let i = 0; i < values.length; i++) values[i] = (2 * rng.uniform() - 1) * bound;
    return values;
  }
  for (let i = 0; i < values.length; i++) {
    let z: number;
    do z = rng.normal(); while (Math.abs(z) > 2);
    values[i] = 0.02 * z;
  }
  return values;
}
