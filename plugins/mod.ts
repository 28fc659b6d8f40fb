/**
 * The attention families that ship with attnzoo. Importing this module registers them; a new
 * family is one folder under plugins/ and one `registerPlugin` line here.
 *
 * @module
 */
import { registerPlugin } from "../core/registry.ts";
import { plugin as agent } from "./agent/mod.ts";
import { plugin as flatten } from "./flatten/mod.ts";
import { plugin as lightning } from "./lightning/mod.ts";
import { plugin as sigmoid } from "./sigmoid/mod.ts";
import { plugin as softmax } from "./softmax/mod.ts";

registerPlugin(softmax);
registerPlugin(sigmoid);
registerPlugin(agent);
registerPlugin(flatten);
registerPlugin(lightning);
