/**
 * ViT / DeiT: patch embedding, class token, learned position embedding, pre-norm blocks with a
 * GELU MLP, and a classification head — with any attention plugin in any block, LayerScale and
 * hybrid-norm as options. Parameter names follow timm (`blocks.3.attn.qkv.weight`).
 *
 * @module
 */
import { z } from "zod";
import { ShapeError } from "../core/errors.ts";
import { add, concat, conv2d, mean, mul, narrow, permute, resizeBilinear } from "../core/ops.ts";
import type { MixerSpec, TokenMixer } from "../core/plugin.ts";
import {
  type Architecture,
  type BuildContext,
  type ConfigEnvelope,
  createMixer,
  type ModelCounts,
} from "../core/registry.ts";
import type { Device, Tensor } from "../core/tensor.ts";
import { type AttentionChoice, AttentionFieldSchema, attentionPerBlock, pluginConfig } from "./_attention.ts";
import { mixerCost } from "./_cost.ts";
import { geluMlp, layerNormAt, linear, param, ParamBuilder } from "./_params.ts";
import { applyLayers, disposeAll, ModelBase } from "./_model.ts";
import { CardSchema, checkAttention, checkHeads, positive } from "./_schema.ts";

/** Config of a ViT/DeiT model. */
export interface VitConfig extends ConfigEnvelope {
  /** Always `vit`. */
  architecture: "vit";
  /** Input resolution (square). */
  imageSize: number;
  /** Patch size (square). */
  patchSize: number;
  /** Input channels. */
  inChannels: number;
  /** Classes of the head. */
  numClasses: number;
  /** Width. */
  dim: number;
  /** Blocks. */
  depth: number;
  /** Attention heads. */
  heads: number;
  /** MLP hidden width over `dim`. */
  mlpRatio: number;
  /** Bias on the qkv projection. */
  qkvBias: boolean;
  /** Prepend a class token (DeiT) or mean-pool the patch tokens. */
  classToken: boolean;
  /** LayerScale init (1e-4 for sigmoid ViTs), or null for none. */
  layerScale: number | null;
  /** Hybrid-norm: a LayerNorm on each branch's output before the residual add. */
  hybridNorm: boolean;
  /** LayerNorm eps. */
  normEps: number;
  /** One attention choice for every block, or ranges of blocks with their own. */
  attention: AttentionChoice | AttentionChoice[];
}

/** Zod schema of ViT configs (defaults are DeiT's). */
export const VitConfigSchema: z.ZodType<VitConfig> = z.looseObject({
  name: z.string(),
  architecture: z.literal("vit"),
  card: CardSchema,
  imageSize: positive.default(224),
  patchSize: positive.default(16),
  inChannels: positive.default(3),
  numClasses: positive.default(1000),
  dim: positive,
  depth: positive,
  heads: positive,
  mlpRatio: z.number().positive().default(4),
  qkvBias: z.boolean().default(true),
  classToken: z.boolean().default(true),
  layerScale: z.number().positive().nullable().default(null),
  hybridNorm: z.boolean().default(false),
  normEps: z.number().positive().default(1e-6),
  attention: AttentionFieldSchema,
}).superRefine((c, ctx) => {
  checkHeads(ctx, c.dim, c.heads);
  if (c.imageSize % c.patchSize !== 0) {
    ctx.addIssue({ code: "custom", path: ["patchSize"], message: `must divide imageSize ${c.imageSize}` });
  }
  checkAttention(ctx, c.attention, c.depth);
}) as unknown as z.ZodType<VitConfig>;

function gridOf(c: VitConfig): [number, number] {
  const g = c.imageSize / c.patchSize;
  return [g, g];
}

function mixerSpec(c: VitConfig, block: number, device: Device, dtype: MixerSpec["dtype"], seed: number): MixerSpec {
  return {
    dim: c.dim,
    heads: c.heads,
    causal: false,
    layer: block,
    layers: c.depth,
    grid: gridOf(c),
    classToken: c.classToken,
    qkvBias: c.qkvBias,
    dtype,
    device,
    seed: seed * 1000 + block + 1,
  };
}

/** A built ViT. */
/** `x` ([1, ...]) repeated `n` times along dim 0 by doubling: about 2·log2(n) copies where a concat of
 * n references makes n (64 device copies per forward at batch 64). */
function repeatBatch(x: Tensor, n: number): Tensor {
  let acc = x.reshape(x.shape);
  while (acc.shape[0] < n) {
    const take = Math.min(acc.shape[0], n - acc.shape[0]);
    using head = take === acc.shape[0] ? acc.reshape(acc.shape) : narrow(acc, 0, 0, take);
    const next = concat([acc, head], 0);
    acc.dispose();
    acc = next;
  }
  return acc;
}

export class VisionTransformer extends ModelBase<VitConfig> {
  /** Logits [B, numClasses] of images [B, C, H, W] (normalised with the card's mean and std). */
  forward(images: Tensor): Tensor {
    const c = this.config;
    const [, channels, h, w] = images.shape;
    if (images.ndim !== 4 || channels !== c.inChannels || h % c.patchSize !== 0 || w % c.patchSize !== 0) {
      throw new ShapeError(
        this.name,
        `expected images [B, ${c.inChannels}, H, W] with H and W multiples of ${c.patchSize}, got [${
          images.shape.join(", ")
        }]`,
      );
    }
    const batch = images.shape[0];
    using last = applyLayers(this.#embed(images, batch), c.depth, (i, x) => this.#block(i, x));
    using normed = layerNormAt(this.parameters, "norm", last, c.normEps);
    using pooled = c.classToken ? narrow(normed, 1, 0, 1) : mean(normed, 1, true);
    using flat = pooled.reshape([batch, c.dim]);
    return linear(this.parameters, "head", flat);
  }

  #embed(images: Tensor, batch: number): Tensor {
    const c = this.config;
    const p = this.parameters;
    using patches = conv2d(images, param(p, "patch_embed.proj.weight"), p.get("patch_embed.proj.bias"), {
      stride: c.patchSize,
    });
    const [gh, gw] = [patches.shape[2], patches.shape[3]];
    using flat = patches.reshape([batch, c.dim, gh * gw]);
    using seq = permute(flat, [0, 2, 1]);
    using posEmbed = this.#positionEmbedding(gh, gw);
    if (!c.classToken) return add(seq, posEmbed);
    using cls = repeatBatch(param(p, "cls_token"), batch);
    using tokens = concat([cls, seq], 1);
    return add(tokens, posEmbed);
  }

  /**
   * `pos_embed` for a gh × gw grid: as stored for the config's grid, else its grid part resized
   * bilinearly (the class token's entry is kept). Families whose layers are built for one grid
   * (agent, flatten) still reject other sizes with their own ShapeError.
   */
  #positionEmbedding(gh: number, gw: number): Tensor {
    const c = this.config;
    const stored = param(this.parameters, "pos_embed");
    const [sh, sw] = gridOf(c);
    if (gh === sh && gw === sw) return stored.reshape(stored.shape);
    const extra = c.classToken ? 1 : 0;
    using gridPart = narrow(stored, 1, extra, sh * sw);
    using grid = permute(gridPart.reshape([1, sh, sw, c.dim]), [0, 3, 1, 2]);
    using resized = resizeBilinear(grid, [gh, gw]);
    using tokens = permute(resized, [0, 2, 3, 1]);
    using flat = tokens.reshape([1, gh * gw, c.dim]);
    if (!c.classToken) return flat.reshape(flat.shape);
    using cls = narrow(stored, 1, 0, 1);
    return concat([cls, flat], 1);
  }

  #block(i: number, x: Tensor): Tensor {
    const c = this.config;
    const p = this.parameters;
    using n1 = layerNormAt(p, `blocks.${i}.norm1`, x, c.normEps);
    using attn = this.mixers[i].forward(n1);
    using attnOut = this.#branch(i, 1, attn);
    using x1 = add(x, attnOut);
    using n2 = layerNormAt(p, `blocks.${i}.norm2`, x1, c.normEps);
    using mlp = geluMlp(p, `blocks.${i}.mlp`, n2);
    using mlpOut = this.#branch(i, 2, mlp);
    return add(x1, mlpOut);
  }

  /** Hybrid-norm, then LayerScale, on a residual branch; returns `y` itself when neither is on. */
  #branch(block: number, which: 1 | 2, y: Tensor): Tensor {
    const c = this.config;
    const p = this.parameters;
    if (!c.hybridNorm && c.layerScale === null) return y;
    if (c.layerScale === null) return layerNormAt(p, `blocks.${block}.post_norm${which}`, y, c.normEps);
    if (!c.hybridNorm) return mul(y, param(p, `blocks.${block}.ls${which}.gamma`));
    using normed = layerNormAt(p, `blocks.${block}.post_norm${which}`, y, c.normEps);
    return mul(normed, param(p, `blocks.${block}.ls${which}.gamma`));
  }
}

function build(config: ConfigEnvelope, context: BuildContext): VisionTransformer {
  const c = config as VitConfig;
  const b = new ParamBuilder(context.dtype, context.device, context.seed);
  const [gh, gw] = gridOf(c);
  const hidden = Math.round(c.dim * c.mlpRatio);
  const mixers: TokenMixer[] = [];
  try {
    b.truncNormal("patch_embed.proj.weight", [c.dim, c.inChannels, c.patchSize, c.patchSize]);
    b.constant("patch_embed.proj.bias", [c.dim], 0);
    if (c.classToken) b.truncNormal("cls_token", [1, 1, c.dim]);
    b.truncNormal("pos_embed", [1, gh * gw + (c.classToken ? 1 : 0), c.dim]);
    const choices = attentionPerBlock(c.attention, c.depth);
    for (let i = 0; i < c.depth; i++) {
      b.layerNorm(`blocks.${i}.norm1`, c.dim);
      const mixer = createMixer(
        choices[i].plugin,
        mixerSpec(c, i, context.device, context.dtype, context.seed),
        pluginConfig(choices[i]),
        `model "${c.name}" attention of block ${i}`,
      );
      mixers.push(mixer);
      b.parameters.mount(`blocks.${i}.attn`, mixer.parameters);
      b.layerNorm(`blocks.${i}.norm2`, c.dim);
      b.linear(`blocks.${i}.mlp.fc1`, c.dim, hidden, true);
      b.linear(`blocks.${i}.mlp.fc2`, hidden, c.dim, true);
      for (const which of [1, 2]) {
        if (c.hybridNorm) b.layerNorm(`blocks.${i}.post_norm${which}`, c.dim);
        if (c.layerScale !== null) b.constant(`blocks.${i}.ls${which}.gamma`, [c.dim], c.layerScale);
      }
    }
    b.layerNorm("norm", c.dim);
    b.linear("head", c.dim, c.numClasses, true);
  } catch (err) {
    disposeAll(mixers, b.parameters);
    throw err;
  }
  return new VisionTransformer(c.name, c, context.device, b.parameters, mixers);
}

function count(config: ConfigEnvelope, plugin: BuildContext["plugin"]): ModelCounts {
  const c = config as VitConfig;
  const [gh, gw] = gridOf(c);
  const patches = gh * gw;
  const tokens = patches + (c.classToken ? 1 : 0);
  const hidden = Math.round(c.dim * c.mlpRatio);
  const patchArea = c.inChannels * c.patchSize * c.patchSize;
  let params = c.dim * patchArea + c.dim + (c.classToken ? c.dim : 0) + tokens * c.dim;
  let flops = 2 * patches * c.dim * patchArea;
  const choices = attentionPerBlock(c.attention, c.depth);
  for (let i = 0; i < c.depth; i++) {
    const mixer = mixerCost(
      plugin(choices[i].plugin),
      mixerSpec(c, i, "cpu", "f32", 0),
      pluginConfig(choices[i]),
      tokens,
    );
    params += mixer.params + 4 * c.dim + 2 * c.dim * hidden + hidden + c.dim;
    params += (c.hybridNorm ? 4 * c.dim : 0) + (c.layerScale !== null ? 2 * c.dim : 0);
    flops += mixer.flops + 4 * tokens * c.dim * hidden;
  }
  params += 2 * c.dim + c.dim * c.numClasses + c.numClasses;
  flops += 2 * c.dim * c.numClasses;
  return { params, flops, per: "image" };
}

/** The ViT architecture, for `registerArchitecture`. */
export const vit: Architecture = { name: "vit", schema: VitConfigSchema, create: build, count };
