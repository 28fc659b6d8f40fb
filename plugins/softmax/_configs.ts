// The pretrained configs this plugin ships, keyed by their path (the registry names the file in errors).
import deit_base_patch16_224 from "./configs/deit_base_patch16_224.json" with { type: "json" };
import deit_small_patch16_224 from "./configs/deit_small_patch16_224.json" with { type: "json" };
import deit_tiny_patch16_224 from "./configs/deit_tiny_patch16_224.json" with { type: "json" };
import gala_softmax_1b from "./configs/gala_softmax_1b.json" with { type: "json" };
import gala_softmax_302m from "./configs/gala_softmax_302m.json" with { type: "json" };
import gala_softmax_7b from "./configs/gala_softmax_7b.json" with { type: "json" };
import gala_softmax_85m from "./configs/gala_softmax_85m.json" with { type: "json" };
import vit_base_patch16_224 from "./configs/vit_base_patch16_224.json" with { type: "json" };

/** `configs/NAME.json` → parsed config, for the manifest's `configs`. */
export const configs: Record<string, unknown> = {
  "configs/deit_base_patch16_224.json": deit_base_patch16_224,
  "configs/deit_small_patch16_224.json": deit_small_patch16_224,
  "configs/deit_tiny_patch16_224.json": deit_tiny_patch16_224,
  "configs/gala_softmax_1b.json": gala_softmax_1b,
  "configs/gala_softmax_302m.json": gala_softmax_302m,
  "configs/gala_softmax_7b.json": gala_softmax_7b,
  "configs/gala_softmax_85m.json": gala_softmax_85m,
  "configs/vit_base_patch16_224.json": vit_base_patch16_224,
};
