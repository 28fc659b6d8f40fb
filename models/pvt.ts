/**
 * PVT (Pyramid Vision Transformer v1) as the official Agent-PVT and FLatten-PVT code builds it:
 * four stages of patch embedding (conv + LayerNorm), learned position embedding and pre-norm
 * blocks, each stage with its own attention choice and token grid; mean-pooled tokens feed the
 * head. Parameter names follow the official code (`patch_embed1.proj.weight`, `block2.0.attn.q.weight`).
 *
 * @module
 */
import { z } from "zod";
import { add, conv2d, mean, permute } from "../core/ops.ts";
import type { MixerSpec, TokenMixer } from "../core/plugin.ts";
import {
  type Architecture,
  type BuildContext,
  type ConfigEnvelope,
  createMixer,
  type ModelCounts,
} from "../core/registry.ts";
import type { Device, Tensor } from "../core/tensor.ts";
import { type AttentionChoice, AttentionChoiceSchema, pluginConfig } from "./_attention.ts";
import { mixerCost } from "./_cost.ts";
import { geluMlp, layerNormAt, linear, param, ParamBuilder } from "./_params.ts";
import { applyLayers, checkImages, disposeAll, ModelBase } from "./_model.ts";
import { CardSchema, checkHeads, positive } from "./_schema.ts";

/** Config of a PVT model. */
export interface PvtConfig extends ConfigEnvelope {
  /** Always `pvt`. */
  architecture: "pvt";
  /** Input resolution (square). */
  imageSize: number;
  /** Patch size of stage 1 (later stages halve the grid). */
  patchSize: number;
  /** Input channels. */
  inChannels: number;
  /** Classes of the head. */
  numClasses: number;
  /** Width of each stage. */
  dims: number[];
  /** Heads of each stage. */
  heads: number[];
  /** Blocks of each stage. */
  depths: number[];
  /** MLP ratio of each stage. */
  mlpRatios: number[];
  /** Bias on q and kv. */
  qkvBias: boolean;
  /** Eps of the block norms (the patch-embedding norms use PyTorch's 1e-5). */
  normEps: number;
  /** FLatten-PVT declares a final `norm` that its forward never applies; keep it so checkpoints load. */
  unusedFinalNorm: boolean;
  /** The attention of each stage. */
  stages: AttentionChoice[];
}

const perStage = z.array(positive).length(4);

/** Zod schema of PVT configs. */
export const PvtConfigSchema: z.ZodType<PvtConfig> = z.looseObject({
  name: z.string(),
  architecture: z.literal("pvt"),
  card: CardSchema,
  imageSize: positive.default(224),
  patchSize: positive.default(4),
  inChannels: positive.default(3),
  numClasses: positive.default(1000),
  dims: perStage,
  heads: perStage,
  depths: perStage,
  mlpRatios: z.array(z.number().positive()).length(4),
  qkvBias: z.boolean().default(true),
  normEps: z.number().positive().default(1e-6),
  unusedFinalNorm: z.boolean().default(false),
  stages: z.array(AttentionChoiceSchema).length(4),
}).superRefine((c, ctx) => {
  c.dims.forEach((d, i) => checkHeads(ctx, d, c.heads[i], ["heads", i]));
  if (c.imageSize % (c.patchSize * 8) !== 0) {
    ctx.addIssue({ code: "custom", path: ["imageSize"], message: `must be a multiple of 8 × patchSize` });
  }
}) as unknown as z.ZodType<PvtConfig>;

function stageGrid(c: PvtConfig, stage: number): [number, number] {
  const g = c.imageSize / c.patchSize / 2 ** stage;
  return [g, g];
}

function stageSpec(
  c: PvtConfig,
  stage: number,
  block: number,
  device: Device,
  dtype: MixerSpec["dtype"],
  seed: number,
): MixerSpec {
  const before = c.depths.slice(0, stage).reduce((a, b) => a + b, 0);
  return {
    dim: c.dims[stage],
    heads: c.heads[stage],
    causal: false,
    layer: before + block,
    layers: c.depths.reduce((a, b) => a + b, 0),
    grid: stageGrid(c, stage),
    classToken: false,
    qkvBias: c.qkvBias,
    dtype,
    device,
    seed: seed * 1000 + before + block + 1,
  };
}

/** A built PVT. */
export class PyramidVisionTransformer extends ModelBase<PvtConfig> {
  /** Logits [B, numClasses] of images [B, C, H, W]. */
  forward(images: Tensor): Tensor {
    const c = this.config;
    const p = this.parameters;
    checkImages(this.name, images, c.inChannels, c.imageSize);
    const batch = images.shape[0];
    let grid: Tensor | undefined; // the previous stage's output as an image, owned here
    try {
      for (let s = 0; s < 4; s++) {
        using tokens = this.#stage(s, grid ?? images);
        grid?.dispose();
        grid = undefined;
        if (s === 3) {
          using pooled = mean(tokens, 1);
          return linear(p, "head", pooled);
        }
        const [gh, gw] = stageGrid(c, s);
        using channelsFirst = permute(tokens, [0, 2, 1]);
        grid = channelsFirst.reshape([batch, c.dims[s], gh, gw]);
      }
    } finally {
      grid?.dispose();
    }
    throw new Error("unreachable");
  }

  /** Patch embedding, position embedding and the blocks of stage `s`: [B, C, H, W] → tokens [B, N, C_s]. */
  #stage(s: number, input: Tensor): Tensor {
    const c = this.config;
    const p = this.parameters;
    const [gh, gw] = stageGrid(c, s);
    using patches = conv2d(input, param(p, `patch_embed${s + 1}.proj.weight`), p.get(`patch_embed${s + 1}.proj.bias`), {
      stride: s === 0 ? c.patchSize : 2,
    });
    using flat = patches.reshape([input.shape[0], c.dims[s], gh * gw]);
    using seq = permute(flat, [0, 2, 1]);
    using normed = layerNormAt(p, `patch_embed${s + 1}.norm`, seq, 1e-5);
    const embedded = add(normed, param(p, `pos_embed${s + 1}`));
    return applyLayers(embedded, c.depths[s], (j, tokens) => this.#block(s, j, tokens));
  }

  #block(stage: number, j: number, x: Tensor): Tensor {
    const c = this.config;
    const p = this.parameters;
    const prefix = `block${stage + 1}.${j}`;
    using n1 = layerNormAt(p, `${prefix}.norm1`, x, c.normEps);
    const before = this.config.depths.slice(0, stage).reduce((a, b) => a + b, 0);
    using attn = this.mixers[before + j].forward(n1);
    using x1 = add(x, attn);
    using n2 = layerNormAt(p, `${prefix}.norm2`, x1, c.normEps);
    using mlp = geluMlp(p, `${prefix}.mlp`, n2);
    return add(x1, mlp);
  }
}

function build(config: ConfigEnvelope, context: BuildContext): PyramidVisionTransformer {
  const c = config as PvtConfig;
  const b = new ParamBuilder(context.dtype, context.device, context.seed);
  const mixers: TokenMixer[] = [];
  try {
    for (let s = 0; s < 4; s++) {
      const inChannels = s === 0 ? c.inChannels : c.dims[s - 1];
      const kernel = s === 0 ? c.patchSize : 2;
      const [gh, gw] = stageGrid(c, s);
      b.truncNormal(`patch_embed${s + 1}.proj.weight`, [c.dims[s], inChannels, kernel, kernel]);
      b.constant(`patch_embed${s + 1}.proj.bias`, [c.dims[s]], 0);
      b.layerNorm(`patch_embed${s + 1}.norm`, c.dims[s]);
      b.truncNormal(`pos_embed${s + 1}`, [1, gh * gw, c.dims[s]]);
      const hidden = Math.round(c.dims[s] * c.mlpRatios[s]);
      for (let j = 0; j < c.depths[s]; j++) {
        const prefix = `block${s + 1}.${j}`;
        b.layerNorm(`${prefix}.norm1`, c.dims[s]);
        const mixer = createMixer(
          c.stages[s].plugin,
          stageSpec(c, s, j, context.device, context.dtype, context.seed),
          pluginConfig(c.stages[s]),
          `model "${c.name}" attention of stage ${s + 1}`,
        );
        mixers.push(mixer);
        b.parameters.mount(`${prefix}.attn`, mixer.parameters);
        b.layerNorm(`${prefix}.norm2`, c.dims[s]);
        b.linear(`${prefix}.mlp.fc1`, c.dims[s], hidden, true);
        b.linear(`${prefix}.mlp.fc2`, hidden, c.dims[s], true);
      }
    }
    if (c.unusedFinalNorm) b.layerNorm("norm", c.dims[3]);
    b.linear("head", c.dims[3], c.numClasses, true);
  } catch (err) {
    disposeAll(mixers, b.parameters);
    throw err;
  }
  return new PyramidVisionTransformer(c.name, c, context.device, b.parameters, mixers);
}

function count(config: ConfigEnvelope, plugin: BuildContext["plugin"]): ModelCounts {
  const c = config as PvtConfig;
  let params = 0;
  let flops = 0;
  for (let s = 0; s < 4; s++) {
    const inChannels = s === 0 ? c.inChannels : c.dims[s - 1];
    const kernel = s === 0 ? c.patchSize : 2;
    const [gh, gw] = stageGrid(c, s);
    const n = gh * gw;
    const d = c.dims[s];
    const hidden = Math.round(d * c.mlpRatios[s]);
    params += d * inChannels * kernel * kernel + d + 2 * d + n * d;
    flops += 2 * n * d * inChannels * kernel * kernel;
    for (let j = 0; j < c.depths[s]; j++) {
      const mixer = mixerCost(
        plugin(c.stages[s].plugin),
        stageSpec(c, s, j, "cpu", "f32", 0),
        pluginConfig(c.stages[s]),
        n,
      );
      params += mixer.params + 4 * d + 2 * d * hidden + hidden + d;
      flops += mixer.flops + 4 * n * d * hidden;
    }
  }
  params += (c.unusedFinalNorm ? 2 * c.dims[3] : 0) + c.dims[3] * c.numClasses + c.numClasses;
  flops += 2 * c.dims[3] * c.numClasses;
  return { params, flops, per: "image" };
}

/** The PVT architecture, for `registerArchitecture`. */
export const pvt: Architecture = { name: "pvt", schema: PvtConfigSchema, create: build, count };
