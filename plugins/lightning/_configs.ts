// The pretrained configs this plugin ships, keyed by their path (the registry names the file in errors).
import lightning_vit_small_patch16_224 from "./configs/lightning_vit_small_patch16_224.json" with { type: "json" };
import transnormer_llm_1b from "./configs/transnormer_llm_1b.json" with { type: "json" };
import transnormer_llm_385m from "./configs/transnormer_llm_385m.json" with { type: "json" };
import transnormer_llm_7b from "./configs/transnormer_llm_7b.json" with { type: "json" };

/** `configs/NAME.json` → parsed config, for the manifest's `configs`. */
export const configs: Record<string, unknown> = {
  "configs/lightning_vit_small_patch16_224.json": lightning_vit_small_patch16_224,
  "configs/transnormer_llm_1b.json": transnormer_llm_1b,
  "configs/transnormer_llm_385m.json": transnormer_llm_385m,
  "configs/transnormer_llm_7b.json": transnormer_llm_7b,
};
