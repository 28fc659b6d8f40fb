/**
 * The softmax-attention token mixer: the core dot-product mixer (fused `qkv` Linear, heads, KV
 * cache, `proj` Linear, as timm's Attention) with softmax(q kᵀ·d^-½ − ALiBi + mask) as its
 * attention function: the FlashSoftmax kernel when the device has it (reading the packed
 * projection in place for full forwards), else composed from core ops.
 *
 * @module
 */
import { alibiSlopes, slopesOnDevice } from "../../core/alibi.ts";
import {
  type AttentionFunction,
  createDotProductMixer,
  type DotProductMixerOptions,
  eagerAttention,
} from "../../core/nn/mod.ts";
import { softmax } from "../../core/ops.ts";
import type { MixerSpec, PluginKernels, TokenMixer } from "../../core/plugin.ts";
import { parseSoftmaxConfig, type SoftmaxConfig } from "./config.ts";
import { flashSoftmaxAttention, flashSoftmaxPackedAttention } from "./_flash.ts";

/** softmax over keys of q kᵀ·d^-½ with bottom-right causal masking and −slope·|distance| ALiBi. */
function eagerSoftmaxAttention(config: SoftmaxConfig): AttentionFunction {
  return (q, k, v, { causal, queryOffset, keyLength }) => {
    const slopes = config.alibi ? alibiSlopes(q.shape[1]) : undefined;
    return eagerAttention(q, k, v, {
      causal,
      queryOffset,
      keyLength,
      alibiSlopes: slopes,
      weights: (scores) => softmax(scores, -1),
    });
  };
}

/** What the softmax family plugs into the core dot-product mixer for `config` (and `heads` with `kernels`). */
export function softmaxMixerOptions(
  config: SoftmaxConfig,
  heads?: number,
  kernels?: PluginKernels,
): DotProductMixerOptions {
  const eager = eagerSoftmaxAttention(config);
  if (kernels === undefined || heads === undefined) return { name: "softmax mixer", attention: eager };
  // the ALiBi slopes live on the device for the mixer's lifetime (the mixer calls dispose)
  const slopes = config.alibi ? slopesOnDevice(alibiSlopes(heads), "cuda") : undefined;
  const options: DotProductMixerOptions = {
    name: "softmax mixer",
    attention: flashSoftmaxAttention(kernels, slopes, eager),
    packedAttention: flashSoftmaxPackedAttention(kernels, slopes),
  };
  if (slopes !== undefined) options.dispose = () => slopes.dispose();
  return options;
}

/**
 * Creates a softmax-attention mixer for `spec` with a (validated or raw) softmax config; with
 * `kernels` (CUDA) its attention runs on the FlashSoftmax forward.
 */
export function createSoftmaxMixer(spec: MixerSpec, rawConfig: unknown, kernels?: PluginKernels): TokenMixer {
  return createDotProductMixer(spec, softmaxMixerOptions(parseSoftmaxConfig(rawConfig), spec.heads, kernels));
}
