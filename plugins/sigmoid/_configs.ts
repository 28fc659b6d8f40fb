// The pretrained configs this plugin ships, keyed by their path (the registry names the file in errors).
import gala_sigmoid_1b from "./configs/gala_sigmoid_1b.json" with { type: "json" };
import gala_sigmoid_302m from "./configs/gala_sigmoid_302m.json" with { type: "json" };
import gala_sigmoid_7b from "./configs/gala_sigmoid_7b.json" with { type: "json" };
import gala_sigmoid_85m from "./configs/gala_sigmoid_85m.json" with { type: "json" };
import vit_base_patch16_224_sigmoid from "./configs/vit_base_patch16_224_sigmoid.json" with { type: "json" };

/** `configs/NAME.json` → parsed config, for the manifest's `configs`. */
export const configs: Record<string, unknown> = {
  "configs/gala_sigmoid_1b.json": gala_sigmoid_1b,
  "configs/gala_sigmoid_302m.json": gala_sigmoid_302m,
  "configs/gala_sigmoid_7b.json": gala_sigmoid_7b,
  "configs/gala_sigmoid_85m.json": gala_sigmoid_85m,
  "configs/vit_base_patch16_224_sigmoid.json": vit_base_patch16_224_sigmoid,
};
