/**
 * Decoder-only language models with any causal attention plugin, in two styles:
 * - `llama` (AXLearn/Llama): RMSNorm, SwiGLU, optional hybrid-norm; HF Llama parameter names.
 * - `transnormer` (TransNormerLLM): SRMSNorm, SGLU, embedding × √D; HF TransNormerLLM names.
 * Generation is greedy or top-k/top-p sampling with a seed, through each mixer's decode state
 * (a KV cache for softmax/sigmoid, a fixed-size recurrent state for the linear families).
 *
 * @module
 */
import { z } from "zod";
import { ShapeError } from "../core/errors.ts";
import { add, affine, embedding, narrow, sampleTokens, toDevice } from "../core/ops.ts";
import type { MixerSpec, MixerState, TokenMixer } from "../core/plugin.ts";
import { Rng } from "../core/random.ts";
import {
  type Architecture,
  type BuildContext,
  type ConfigEnvelope,
  createMixer,
  type ModelCounts,
} from "../core/registry.ts";
import { type Device, type Tensor, tensor } from "../core/tensor.ts";
import { type AttentionChoice, AttentionFieldSchema, attentionPerBlock, pluginConfig } from "./_attention.ts";
import { mixerCost } from "./_cost.ts";
import { linear, ParamBuilder, rmsNormAt, sGlu, swiGlu } from "./_params.ts";
import type { SamplingOptions } from "./_sampling.ts";
import { applyLayers, disposeAll, ModelBase } from "./_model.ts";
import { CardSchema, checkAttention, checkHeads, positive } from "./_schema.ts";

/** Config of a decoder-only LM. */
export interface LmConfig extends ConfigEnvelope {
  /** Always `lm`. */
  architecture: "lm";
  /** Block layout and parameter naming. */
  style: "llama" | "transnormer";
  /** Vocabulary size. */
  vocabSize: number;
  /** Width D. */
  dim: number;
  /** Layers. */
  depth: number;
  /** Attention heads. */
  heads: number;
  /** Key/value heads (GQA); defaults to heads. */
  kvHeads?: number;
  /** Hidden width of the MLP / channel mixer. */
  mlpHidden: number;
  /** Context length the model was trained for. */
  maxLength: number;
  /** Norm eps. */
  normEps: number;
  /** Multiply embeddings by √D (TransNormerLLM unless `no_scale_embedding`). */
  embedScale: boolean;
  /** Share the embedding matrix with the output head. */
  tieEmbeddings: boolean;
  /** Hybrid-norm (llama style): an RMSNorm on each branch output before the residual add. */
  hybridNorm: boolean;
  /** The causal attention of every layer. */
  attention: AttentionChoice | AttentionChoice[];
}

/** Zod schema of LM configs. */
export const LmConfigSchema: z.ZodType<LmConfig> = z.looseObject({
  name: z.string(),
  architecture: z.literal("lm"),
  card: CardSchema,
  style: z.enum(["llama", "transnormer"]).default("llama"),
  vocabSize: positive,
  dim: positive,
  depth: positive,
  heads: positive,
  kvHeads: positive.optional(),
  mlpHidden: positive,
  maxLength: positive.default(4096),
  normEps: z.number().positive().default(1e-6),
  embedScale: z.boolean().default(false),
  tieEmbeddings: z.boolean().default(false),
  hybridNorm: z.boolean().default(false),
  attention: AttentionFieldSchema,
}).superRefine((c, ctx) => {
  checkHeads(ctx, c.dim, c.heads);
  if (c.kvHeads !== undefined && c.heads % c.kvHeads !== 0) {
    ctx.addIssue({ code: "custom", path: ["kvHeads"], message: `must divide heads ${c.heads}` });
  }
  if (c.hybridNorm && c.style !== "llama") {
    ctx.addIssue({ code: "custom", path: ["hybridNorm"], message: "only the llama style has hybrid-norm" });
  }
  checkAttention(ctx, c.attention, c.depth);
}) as unknown as z.ZodType<LmConfig>;

/** Options of {@linkcode LanguageModel.generate}. */
export interface GenerateOptions extends SamplingOptions {
  /** New tokens to produce per sequence. */
  maxNew: number;
  /** Seed of the sampler. Default 0. */
  seed?: number;
  /** Stop a sequence at this token (it is included). */
  eosToken?: number;
}

interface Names {
  mixer: (i: number) => string;
  mlp: (i: number) => string;
  norm1: (i: number) => string;
  norm2: (i: number) => string;
  final: string;
}

const NAMES: Record<LmConfig["style"], Names> = {
  llama: {
    mixer: (i) => `model.layers.${i}.self_attn`,
    mlp: (i) => `model.layers.${i}.mlp`,
    norm1: (i) => `model.layers.${i}.input_layernorm`,
    norm2: (i) => `model.layers.${i}.post_attention_layernorm`,
    final: "model.norm",
  },
  transnormer: {
    mixer: (i) => `model.layers.${i}.token_mixer`,
    mlp: (i) => `model.layers.${i}.channel_mixer`,
    norm1: (i) => `model.layers.${i}.token_norm`,
    norm2: (i) => `model.layers.${i}.channel_norm`,
    final: "model.final_norm",
  },
};

/** A built decoder-only LM. */
export class LanguageModel extends ModelBase<LmConfig> {
  readonly #names: Names = NAMES[this.config.style];

  /** Logits [B, N, vocab] of i32 token ids [B, N]. */
  forward(ids: Tensor): Tensor {
    return this.#run(ids, (i, x) => this.mixers[i].forward(x));
  }

  /**
   * Continues each prompt by `maxNew` tokens. The prompt is consumed in one prefill step, then
   * one token per step through the mixers' decode states.
   */
  generate(prompts: readonly (readonly number[])[], options: GenerateOptions): number[][] {
    if (prompts.length === 0 || prompts.some((p) => p.length === 0 || p.length !== prompts[0].length)) {
      throw new ShapeError(`${this.name}.generate`, "prompts must be non-empty and of equal length");
    }
    for (const [i, m] of this.mixers.entries()) {
      if (m.createState === undefined || m.step === undefined) {
        throw new ShapeError(`${this.name}.generate`, `the mixer of layer ${i} cannot decode`);
      }
    }
    const batch = prompts.length;
    const states: MixerState[] = [];
    const rng = new Rng(options.seed ?? 0);
    const out: number[][] = prompts.map(() => []);
    const done = prompts.map(() => false);
    try {
      for (const m of this.mixers) states.push(m.createState!(batch));
      const sampling = (options.temperature ?? 0) > 0;
      let next: readonly (readonly number[])[] = prompts;
      for (let t = 0; t < options.maxNew && done.includes(false); t++) {
        // one draw per live row, in row order: the host sampler's sequence for the same seed
        const uniforms = Float64Array.from(done, (d) => (sampling && !d ? rng.uniform() : 0));
        using logits = this.#lastLogits(next, states);
        using ids = sampleTokens(logits, options, uniforms);
        const chosen = Array.from(ids.toTypedArray(), (token, b) => (done[b] ? (options.eosToken ?? 0) : token));
        chosen.forEach((token, b) => {
          if (done[b]) return;
          out[b].push(token);
          if (token === options.eosToken) done[b] = true;
        });
        next = chosen.map((token) => [token]);
      }
    } finally {
      for (const s of states) s[Symbol.dispose]();
    }
    return out;
  }

  /** Feeds `tokens` through every layer's step; the last position's logits [B, vocab] stay on the device. */
  #lastLogits(tokens: readonly (readonly number[])[], states: MixerState[]): Tensor {
    const batch = tokens.length;
    const n = tokens[0].length;
    using hostIds = tensor(Int32Array.from(tokens.flat()), { shape: [batch, n] });
    using ids = toDevice(hostIds, this.device);
    using logits = this.#run(ids, (i, x) => this.mixers[i].step!(x, states[i]), true);
    return logits.reshape([batch, this.config.vocabSize]);
  }

  #run(ids: Tensor, mix: (layer: number, x: Tensor) => Tensor, lastOnly = false): Tensor {
    const c = this.config;
    const p = this.parameters;
    if (ids.dtype !== "i32" || ids.ndim !== 2) {
      throw new ShapeError(this.name, `expected i32 token ids [B, N], got ${ids.dtype} [${ids.shape.join(", ")}]`);
    }
    const [batch, n] = ids.shape;
    const embedded = embedding(ids, p.get("model.embed_tokens.weight")!);
    const scaled = c.embedScale ? applyLayers(embedded, 1, (_, e) => affine(e, Math.sqrt(c.dim))) : embedded;
    using hidden = applyLayers(scaled, c.depth, (i, x) => this.#layer(i, x, mix));
    using last = lastOnly ? narrow(hidden, 1, n - 1, 1) : undefined;
    using normed = rmsNormAt(p, this.#names.final, last ?? hidden, c.normEps);
    using flat = normed.reshape([batch * (lastOnly ? 1 : n), c.dim]);
    using logits = linear(p, c.tieEmbeddings ? "model.embed_tokens" : "lm_head", flat);
    return logits.reshape([batch, lastOnly ? 1 : n, c.vocabSize]);
  }

  #layer(i: number, x: Tensor, mix: (layer: number, x: Tensor) => Tensor): Tensor {
    const c = this.config;
    const p = this.parameters;
    using n1 = rmsNormAt(p, this.#names.norm1(i), x, c.normEps);
    using attn = mix(i, n1);
    using attnOut = c.hybridNorm ? rmsNormAt(p, `model.layers.${i}.attn_out_norm`, attn, c.normEps) : undefined;
    using x1 = add(x, attnOut ?? attn);
    using n2 = rmsNormAt(p, this.#names.norm2(i), x1, c.normEps);
    using mlp = c.style === "llama" ? swiGlu(p, this.#names.mlp(i), n2) : sGlu(p, this.#names.mlp(i), n2);
    using mlpOut = c.hybridNorm ? rmsNormAt(p, `model.layers.${i}.mlp_out_norm`, mlp, c.normEps) : undefined;
    return add(x1, mlpOut ?? mlp);
  }
}

function mixerSpec(c: LmConfig, layer: number, device: Device, dtype: MixerSpec["dtype"], seed: number): MixerSpec {
  return {
    dim: c.dim,
    heads: c.heads,
    kvHeads: c.kvHeads,
    causal: true,
    layer,
    layers: c.depth,
    qkvBias: false,
    dtype,
    device,
    seed: seed * 1000 + layer + 1,
  };
}

function build(config: ConfigEnvelope, context: BuildContext): LanguageModel {
  const c = config as LmConfig;
  const names = NAMES[c.style];
  const b = new ParamBuilder(context.dtype, context.device, context.seed);
  const mixers: TokenMixer[] = [];
  const rmsWeight = (name: string): void => {
    if (c.style === "llama") b.constant(`${name}.weight`, [c.dim], 1); // SRMSNorm has no weight
  };
  try {
    b.truncNormal("model.embed_tokens.weight", [c.vocabSize, c.dim]);
    const choices = attentionPerBlock(c.attention, c.depth);
    for (let i = 0; i < c.depth; i++) {
      rmsWeight(names.norm1(i));
      const mixer = createMixer(
        choices[i].plugin,
        mixerSpec(c, i, context.device, context.dtype, context.seed),
        pluginConfig(choices[i]),
        `model "${c.name}" attention of layer ${i}`,
      );
      mixers.push(mixer);
      b.parameters.mount(names.mixer(i), mixer.parameters);
      rmsWeight(names.norm2(i));
      if (c.hybridNorm) {
        rmsWeight(`model.layers.${i}.attn_out_norm`);
        rmsWeight(`model.layers.${i}.mlp_out_norm`);
      }
      const mlp = names.mlp(i);
      if (c.style === "llama") {
        b.linear(`${mlp}.gate_proj`, c.dim, c.mlpHidden, false);
        b.linear(`${mlp}.up_proj`, c.dim, c.mlpHidden, false);
        b.linear(`${mlp}.down_proj`, c.mlpHidden, c.dim, false);
      } else {
        b.linear(`${mlp}.l1`, c.dim, c.mlpHidden, false);
        b.linear(`${mlp}.l2`, c.dim, c.mlpHidden, false);
        b.linear(`${mlp}.l3`, c.mlpHidden, c.dim, false);
      }
    }
    rmsWeight(names.final);
    if (!c.tieEmbeddings) b.truncNormal("lm_head.weight", [c.vocabSize, c.dim]);
  } catch (err) {
    disposeAll(mixers, b.parameters);
    throw err;
  }
  return new LanguageModel(c.name, c, context.device, b.parameters, mixers);
}

function count(config: ConfigEnvelope, plugin: BuildContext["plugin"]): ModelCounts {
  const c = config as LmConfig;
  const choices = attentionPerBlock(c.attention, c.depth);
  const normParams = c.style === "llama" ? c.dim : 0;
  let params = c.vocabSize * c.dim * (c.tieEmbeddings ? 1 : 2) + normParams;
  // FLOPs per token at a context of maxLength tokens, averaged over the positions
  let flops = 2 * c.dim * c.vocabSize;
  for (let i = 0; i < c.depth; i++) {
    const spec = mixerSpec(c, i, "cpu", "f32", 0);
    const mixer = mixerCost(
      plugin(choices[i].plugin),
      spec,
      pluginConfig(choices[i]),
      c.maxLength,
    );
    params += mixer.params + 3 * c.dim * c.mlpHidden + normParams * (c.hybridNorm ? 4 : 2);
    flops += mixer.flops / c.maxLength + 6 * c.dim * c.mlpHidden;
  }
  return { params, flops, per: "token" };
}

/** The LM architecture, for `registerArchitecture`. */
export const lm: Architecture = { name: "lm", schema: LmConfigSchema, create: build, count };
