/**
 * Head layout of a multi-head attention layer (heads, key/value heads for GQA/MQA, head dim) and
 * the reshapes between token-major activations [B, N, H·d] and head-major [B, H, N, d].
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { permute } from "../ops.ts";
import type { MixerSpec } from "../plugin.ts";
import type { Tensor } from "../tensor.ts";

/** Head layout of a mixer. */
export interface HeadGeometry {
  /** Query heads H. */
  heads: number;
  /** Key/value heads Hkv, a divisor of H. */
  kvHeads: number;
  /** Width of one head, dim / H. */
  headDim: number;
  /** Query heads per key/value head, H / Hkv. */
  group: number;
}

/** Head layout of `spec`; a width not divisible by the heads, or heads not by kvHeads, is a ConfigError. */
export function headGeometry(source: string, spec: MixerSpec): HeadGeometry {
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

/** [B, N, heads·d] → [B, heads, N, d]. */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [batch, n, width] = x.shape;
  using grid = x.reshape([batch, n, heads, width / heads]);
  return permute(grid, [0, 2, 1, 3]);
}

/** [B, H, N, d] → [B, N, H·d], the inverse of {@linkcode splitHeads}. */
export function mergeHeads(x: Tensor): Tensor {
  const [batch, heads, n, d] = x.shape;
  using perToken = permute(x, [0, 2, 1, 3]);
  return perToken.reshape([batch, n, heads * d]);
}
