/**
 * The sigmoid-attention token mixer: the core dot-product mixer (fused `qkv` Linear, heads, KV
 * cache, `proj` Linear) with optional QK-norm (`q_norm`, `k_norm`) on q and k and
 * σ(q kᵀ·d^-½ + b − ALiBi) as its attention function. Parameter names follow
 * apple/ml-sigmoid-attention's `Attention` (the timm layout).
 *
 * @module
 */
import { alibiSlopes, slopesOnDevice } from "../../core/alibi.ts";
import {
  type AttentionFunction,
  createDotProductMixer,
  type DotProductMixerOptions,
  eagerAttention,
  type QkTransform,
} from "../../core/nn/mod.ts";
import { layerNorm, rmsNorm, sigmoid } from "../../core/ops.ts";
import type { MixerSpec, PluginKernels, TokenMixer } from "../../core/plugin.ts";
import { flashSigmoidAttention, flashSigmoidPackedAttention } from "./_flash.ts";
import { parseSigmoidConfig, scoreBias, type SigmoidConfig } from "./config.ts";

/**
 * σ of q kᵀ·d^-½ + b − slope·distance (the full-offset ALiBi rule), masked keys weighted 0,
 * composed from core ops.
 */
function eagerSigmoidAttention(bias: number, slopes: Float64Array | undefined): AttentionFunction {
  return (q, k, v, { causal, queryOffset, keyLength }) =>
    eagerAttention(q, k, v, { causal, queryOffset, keyLength, scoreBias: bias, alibiSlopes: slopes, weights: sigmoid });
}

/** RMSNorm (eps 1e-6) or LayerNorm (eps 1e-5) over the head dim, PyTorch's defaults. */
function qkNorm(kind: "rms" | "layer"): QkTransform {
  return {
    parameters: ({ headDim }) =>
      ["q_norm", "k_norm"].flatMap((name) => [
        { name: `${name}.weight`, shape: [headDim], init: "ones" as const },
        ...(kind === "layer" ? [{ name: `${name}.bias`, shape: [headDim], init: "zeros" as const }] : []),
      ]),
    apply: (x, role, parameter) => {
      const name = role === "q" ? "q_norm" : "k_norm";
      if (kind === "rms") return rmsNorm(x, parameter(`${name}.weight`), 1e-6);
      return layerNorm(x, parameter(`${name}.weight`), parameter(`${name}.bias`), 1e-5);
    },
  };
}

/**
 * What the sigmoid family plugs into the core dot-product mixer for `config` and `heads` query
 * heads. With `kernels` the attention runs on the FlashSigmoid kernels, and the ALiBi slopes live
 * on the device for the mixer's lifetime (freed by the options' dispose, which the mixer calls).
 */
export function sigmoidMixerOptions(
  config: SigmoidConfig,
  heads: number,
  kernels?: PluginKernels,
): DotProductMixerOptions {
  const bias = scoreBias(config);
  const slopes = config.alibi ? alibiSlopes(heads) : undefined;
  const eager = eagerSigmoidAttention(bias, slopes);
  const qkTransform = config.qkNorm === "none" ? undefined : qkNorm(config.qkNorm);
  const options: DotProductMixerOptions = { name: "sigmoid mixer", attention: eager };
  if (qkTransform !== undefined) options.qkTransform = qkTransform;
  if (kernels === undefined) return options;
  const onDevice = slopes === undefined ? undefined : slopesOnDevice(slopes, "cuda");
  options.attention = flashSigmoidAttention(kernels, bias, onDevice, eager);
  // full forwards read q, k, v in place from the qkv projection (QK-norm needs split heads)
  if (qkTransform === undefined) options.packedAttention = flashSigmoidPackedAttention(kernels, bias, onDevice);
  if (onDevice !== undefined) options.dispose = () => onDevice.dispose();
  return options;
}

/**
 * Creates a sigmoid-attention mixer for `spec` with a (validated or raw) sigmoid config; with
 * `kernels` (CUDA) its attention runs on the FlashSigmoid forward.
 */
export function createSigmoidMixer(spec: MixerSpec, rawConfig: unknown, kernels?: PluginKernels): TokenMixer {
  return createDotProductMixer(spec, sigmoidMixerOptions(parseSigmoidConfig(rawConfig), spec.heads, kernels));
}
