/**
 * Per-layer decay rates as released with TransNormerLLM: the ALiBi slopes of the head count,
 * scaled for layer l of L by (1 − l/(L−1) + 1e-5), so the first layer decays fastest and the last
 * barely decays (λ_h = exp(−s_h)). The official code divides by L − 1 and fails for a one-layer
 * model (ZeroDivisionError); here that is a ConfigError.
 *
 * @module
 */
import { alibiSlopes } from "../../core/alibi.ts";
import { ConfigError } from "../../core/errors.ts";

/** Decay rates s_h of layer `layer` in a model of `layers` layers, one per head. */
export function layerDecayRates(heads: number, layer: number, layers: number): Float64Array {
  if (!Number.isInteger(layers) || layers < 2) {
    throw new ConfigError(
      "layerDecayRates",
      "layers",
      `the released decay scales by 1 − l/(L − 1) and needs L >= 2 layers, got ${layers}`,
    );
  }
  if (!Number.isInteger(layer) || layer < 0 || layer >= layers) {
    throw new ConfigError("layerDecayRates", "layer", `must be an integer in [0, ${layers}), got ${layer}`);
  }
  const factor = 1 - layer / (layers - 1) + 1e-5;
  return alibiSlopes(heads).map((slope) => slope * factor);
}
