// Parameter and FLOP counts computed from the configs against the official figures (timm for
// DeiT/ViT, the Agent Attention and FLatten READMEs for theirs; their FLOPs are MACs).
import "../../mod.ts";
import { listModels, modelInfo } from "../../core/registry.ts";
import { assert, assertEquals } from "../_assert.ts";
import { test } from "../_harness.ts";

test("counts: timm DeiT and ViT parameters exactly", () => {
  assertEquals(modelInfo("deit_tiny_patch16_224").params, 5_717_416);
  assertEquals(modelInfo("deit_small_patch16_224").params, 22_050_664);
  assertEquals(modelInfo("deit_base_patch16_224").params, 86_567_656);
  assertEquals(modelInfo("vit_base_patch16_224").params, 86_567_656);
});

const millions = (name: string): string => (modelInfo(name).params / 1e6).toFixed(1);

test("counts: Agent-DeiT-T exactly, derived by hand from the official layer", () => {
  // DeiT-T plus, per block (3 heads, 49 agents, 14×14 grid, C 192): an/na 2·3·49·7·7, ah/aw/ha/wa
  // 4·3·49·14, ac/ca 2·3·49, dwc 192·9 + 192
  const perBlock = 2 * 3 * 49 * 49 + 4 * 3 * 49 * 14 + 2 * 3 * 49 + 192 * 9 + 192;
  assertEquals(modelInfo("agent_deit_tiny").params, 5_717_416 + 12 * perBlock);
});

test("counts: Agent-DeiT and Agent-PVT parameters within 0.1M of the official README", () => {
  // the README rounds to 0.1M; for Agent-DeiT-S it says 22.7M where the layers count 22,647,112
  const official: [string, string][] = [
    ["agent_deit_tiny", "6.0"],
    ["agent_deit_small", "22.7"],
    ["agent_deit_base", "87.2"],
    ["agent_pvt_tiny", "11.6"],
    ["agent_pvt_small", "20.6"],
    ["agent_pvt_medium", "35.9"],
    ["agent_pvt_large", "48.7"],
  ];
  for (const [name, m] of official) {
    assert(Math.abs(Number(millions(name)) - Number(m)) <= 0.1 + 1e-9, `${name}: ${millions(name)}M, official ${m}M`);
  }
});

test("counts: FLOPs are twice the official MACs, within the official rounding", () => {
  const official: [string, number][] = [
    ["agent_deit_tiny", 1.2],
    ["agent_deit_small", 4.4],
    ["agent_deit_base", 17.6],
    ["agent_pvt_tiny", 2.0],
    ["agent_pvt_small", 4.0],
    ["agent_pvt_medium", 7.0],
    ["agent_pvt_large", 10.4],
    ["deit_small_patch16_224", 4.6],
  ];
  for (const [name, gmacs] of official) {
    const ours = modelInfo(name).flops / 2e9;
    assert(Math.abs(ours - gmacs) <= 0.05 * gmacs + 0.05, `${name}: ${ours.toFixed(2)} GMACs, official ${gmacs}`);
  }
});

test("counts: FLatten-PVT-T and the LM sizes", () => {
  assertEquals(millions("flatten_pvt_tiny"), "12.2");
  const gala = modelInfo("gala_sigmoid_85m");
  // the paper's 85M counts the transformer layers, not the 32k × 768 embedding and head
  const nonEmbedding = gala.params - 2 * 32768 * 768;
  assert(Math.abs(nonEmbedding / 1e6 - 85) < 3, `gala 85M: ${(nonEmbedding / 1e6).toFixed(1)}M non-embedding`);
  assertEquals(modelInfo("transnormer_llm_1b").per, "token");
});

test("counts: every shipped config validates in full (architecture and attention blocks) and counts", () => {
  const names = listModels();
  assert(names.length >= 38, `${names.length} configs`);
  for (const name of names) {
    const info = modelInfo(name);
    assert(info.params > 0 && info.flops > 0, `${name}: ${info.params} params, ${info.flops} FLOPs`);
  }
});
