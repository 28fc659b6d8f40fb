// The pretrained configs this plugin ships, keyed by their path (the registry names the file in errors).
import flatten_deit_small from "./configs/flatten_deit_small.json" with { type: "json" };
import flatten_deit_tiny from "./configs/flatten_deit_tiny.json" with { type: "json" };
import flatten_pvt_large from "./configs/flatten_pvt_large.json" with { type: "json" };
import flatten_pvt_medium from "./configs/flatten_pvt_medium.json" with { type: "json" };
import flatten_pvt_small from "./configs/flatten_pvt_small.json" with { type: "json" };
import flatten_pvt_tiny from "./configs/flatten_pvt_tiny.json" with { type: "json" };
import gala_flatten_1b from "./configs/gala_flatten_1b.json" with { type: "json" };
import gala_flatten_302m from "./configs/gala_flatten_302m.json" with { type: "json" };
import gala_flatten_7b from "./configs/gala_flatten_7b.json" with { type: "json" };
import gala_flatten_85m from "./configs/gala_flatten_85m.json" with { type: "json" };

/** `configs/NAME.json` → parsed config, for the manifest's `configs`. */
export const configs: Record<string, unknown> = {
  "configs/flatten_deit_small.json": flatten_deit_small,
  "configs/flatten_deit_tiny.json": flatten_deit_tiny,
  "configs/flatten_pvt_large.json": flatten_pvt_large,
  "configs/flatten_pvt_medium.json": flatten_pvt_medium,
  "configs/flatten_pvt_small.json": flatten_pvt_small,
  "configs/flatten_pvt_tiny.json": flatten_pvt_tiny,
  "configs/gala_flatten_1b.json": gala_flatten_1b,
  "configs/gala_flatten_302m.json": gala_flatten_302m,
  "configs/gala_flatten_7b.json": gala_flatten_7b,
  "configs/gala_flatten_85m.json": gala_flatten_85m,
};
