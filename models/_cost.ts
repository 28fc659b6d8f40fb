// Parameters and FLOPs of one mixer: the plugin's own cost function, on a validated config.
import { parseOrThrow } from "../core/_validate.ts";
import { ConfigError } from "../core/errors.ts";
import type { MixerCost, MixerSpec, PluginManifest } from "../core/plugin.ts";

/** Cost of one mixer of `plugin` over `tokens` tokens; a bad config is a ConfigError naming `source`. */
export function mixerCost(
  plugin: PluginManifest,
  spec: MixerSpec,
  config: unknown,
  tokens: number,
  source = `attention config of plugin "${plugin.name}"`,
): MixerCost {
  const parsed = parseOrThrow(plugin.configSchema, config, source);
  if (plugin.cost === undefined) throw new ConfigError(`plugin "${plugin.name}"`, "cost", "declares no cost function");
  return plugin.cost(spec, parsed, tokens);
}
