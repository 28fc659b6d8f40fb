// What every architecture's model shares: identity, parameters, mixers, and disposal of both.
import { ShapeError } from "../core/errors.ts";
import type { TokenMixer } from "../core/plugin.ts";
import type { ConfigEnvelope, Model } from "../core/registry.ts";
import type { Device, Tensor } from "../core/tensor.ts";
import type { ParameterTree } from "./_params.ts";

/** Base of the built models: frees every mixer and parameter on dispose. */
export abstract class ModelBase<C extends ConfigEnvelope> implements Model {
  /** Built by an architecture's `create`, which owns the mixers and parameters it passes. */
  constructor(
    readonly name: string,
    readonly config: C,
    readonly device: Device,
    readonly parameters: ParameterTree,
    protected readonly mixers: readonly TokenMixer[],
  ) {}

  /** Frees every mixer and parameter. */
  dispose(): void {
    disposeAll(this.mixers, this.parameters);
  }

  /** Same as dispose, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Frees mixers and parameters (after a failed build too). */
export function disposeAll(mixers: readonly TokenMixer[], parameters: ParameterTree): void {
  for (const m of mixers) m[Symbol.dispose]();
  for (const t of parameters.values()) t.dispose();
}

/** Throws a ShapeError naming the model unless `images` is [B, channels, size, size]. */
export function checkImages(model: string, images: Tensor, channels: number, size: number): void {
  const [, c, h, w] = images.shape;
  if (images.ndim !== 4 || c !== channels || h !== size || w !== size) {
    throw new ShapeError(model, `expected images [B, ${channels}, ${size}, ${size}], got [${images.shape.join(", ")}]`);
  }
}

/**
 * Runs `count` residual layers over `x`, which it takes ownership of: each intermediate is
 * disposed as soon as the next exists, and the one in hand is disposed if a layer throws.
 */
export function applyLayers(x: Tensor, count: number, layer: (index: number, x: Tensor) => Tensor): Tensor {
  let current = x;
  try {
    for (let i = 0; i < count; i++) {
      const next = layer(i, current);
      current.dispose();
      current = next;
    }
    return current;
  } catch (err) {
    current.dispose();
    throw err;
  }
}
