// The pretrained configs this plugin ships, keyed by their path (the registry names the file in errors).
import agent_deit_base from "./configs/agent_deit_base.json" with { type: "json" };
import agent_deit_small from "./configs/agent_deit_small.json" with { type: "json" };
import agent_deit_tiny from "./configs/agent_deit_tiny.json" with { type: "json" };
import agent_pvt_large from "./configs/agent_pvt_large.json" with { type: "json" };
import agent_pvt_medium from "./configs/agent_pvt_medium.json" with { type: "json" };
import agent_pvt_small from "./configs/agent_pvt_small.json" with { type: "json" };
import agent_pvt_tiny from "./configs/agent_pvt_tiny.json" with { type: "json" };
import gala_agent_1b from "./configs/gala_agent_1b.json" with { type: "json" };
import gala_agent_302m from "./configs/gala_agent_302m.json" with { type: "json" };
import gala_agent_7b from "./configs/gala_agent_7b.json" with { type: "json" };
import gala_agent_85m from "./configs/gala_agent_85m.json" with { type: "json" };

/** `configs/NAME.json` → parsed config, for the manifest's `configs`. */
export const configs: Record<string, unknown> = {
  "configs/agent_deit_base.json": agent_deit_base,
  "configs/agent_deit_small.json": agent_deit_small,
  "configs/agent_deit_tiny.json": agent_deit_tiny,
  "configs/agent_pvt_large.json": agent_pvt_large,
  "configs/agent_pvt_medium.json": agent_pvt_medium,
  "configs/agent_pvt_small.json": agent_pvt_small,
  "configs/agent_pvt_tiny.json": agent_pvt_tiny,
  "configs/gala_agent_1b.json": gala_agent_1b,
  "configs/gala_agent_302m.json": gala_agent_302m,
  "configs/gala_agent_7b.json": gala_agent_7b,
  "configs/gala_agent_85m.json": gala_agent_85m,
};
