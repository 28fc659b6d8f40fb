/**
 * The model architectures: ViT (DeiT style) and decoder-only LMs. Importing this module
 * registers them.
 *
 * @module
 */
import { registerArchitecture } from "../core/registry.ts";
import { lm } from "./lm.ts";
import { pvt } from "./pvt.ts";
import { vit } from "./vit.ts";

registerArchitecture(vit);
registerArchitecture(lm);
registerArchitecture(pvt);

export { type GenerateOptions, LanguageModel, lm, type LmConfig, LmConfigSchema } from "./lm.ts";
export { pvt, type PvtConfig, PvtConfigSchema, PyramidVisionTransformer } from "./pvt.ts";
export { VisionTransformer, vit, type VitConfig, VitConfigSchema } from "./vit.ts";
export type { SamplingOptions } from "./_sampling.ts";
export { ModelBase } from "./_model.ts";
export { ParameterTree } from "./_params.ts";
export type { AttentionChoice } from "./_attention.ts";
