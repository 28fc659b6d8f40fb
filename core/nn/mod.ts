/**
 * Building blocks of attention layers that plugins share: head geometry and reshapes, seeded
 * parameter init on the layer's device, eager dot-product attention with a swappable weighting,
 * the generic dot-product token mixer, strided operand views for fused kernels, and the checks and readers of per-head reference inputs.
 *
 * @module
 */
export {
  type AttentionGeometry,
  checkHeads,
  checkOutputGrad,
  type HeadPair,
  headPairs,
  readF64,
  readSlopes,
  resolveScale,
  type Slopes,
} from "./attention_inputs.ts";
export {
  type AttentionCall,
  type AttentionFunction,
  createDotProductMixer,
  dotProductMixerCost,
  type DotProductMixerOptions,
  type PackedAttentionFunction,
  type QkTransform,
} from "./dot_product_mixer.ts";
export { eagerAttention, type EagerAttentionOptions } from "./eager_attention.ts";
export { type HeadGeometry, headGeometry, mergeHeads, splitHeads } from "./heads.ts";
export { initParameters, type ParameterSpec } from "./parameters.ts";
export {
  type AttentionViews,
  type DevicePointer,
  headMajorViews,
  launchInto,
  packedViews,
  type StridedView,
} from "./strided_views.ts";
