// Parameters and FLOPs of one mixer: the plugin's own cost function, validated config first.
import type { MixerCost, MixerSpec, PluginManifest } from "../core/plugin.ts";

/** Cost of one mixer of `plugin` over `tokens` tokens. */
export function mixerCost(plugin: PluginManifest, spec: MixerSpec, config: unknown, tokens: number): MixerCost {
  const parsed = plugin.configSchema.parse(config);
  if (plugin.cost === undefined) throw new Error(`plugin "${plugin.name}" declares no cost function`);
  return plugin.cost(spec, parsed, tokens);
}
