/**
 * The softmax-attention token mixer: the core dot-product mixer (fused `qkv` Linear, heads, KV
 * cache, `proj` Linear, as timm's Attention) with softmax(q kᵀ·d^-½ − ALiBi + mask) as its
 * attention function.
 *
 * @module
 */
import { alibiSlopes } from "../../core/alibi.ts";
import {
  type AttentionFunction,
  createDotProductMixer,
  type DotProductMixerOptions,
  eagerAttention,
} from "../../core/nn/mod.ts";
import { softmax } from "../../core/ops.ts";
import type { MixerSpec, TokenMixer } from "../../core/plugin.ts";
import { parseSoftmaxConfig, type SoftmaxConfig } from "./config.ts";

/** softmax over keys of q kᵀ·d^-½ with bottom-right causal masking and −slope·|distance| ALiBi. */
function softmaxAttentionFunction(config: SoftmaxConfig): AttentionFunction {
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

/** What the softmax family plugs into the core dot-product mixer for `config`. */
export function softmaxMixerOptions(config: SoftmaxConfig): DotProductMixerOptions {
  return { name: "softmax mixer", attention: softmaxAttentionFunction(config) };
}

/** Creates a softmax-attention mixer for `spec` with a (validated or raw) softmax config. */
export function createSoftmaxMixer(spec: MixerSpec, rawConfig: unknown): TokenMixer {
  return createDotProductMixer(spec, softmaxMixerOptions(parseSoftmaxConfig(rawConfig)));
}
