/**
 * The zoo tour (`npm start`, `deno task start`, `bun run start`): for every registered attention
 * plugin, a small ViT and a small LM built on the best available device, one forward pass each
 * and a short greedy generation, then a table of parameters, latency and tokens/s.
 */
import {
  buildModel,
  type DeviceRequest,
  type LanguageModel,
  listModels,
  listPlugins,
  narrow,
  randn,
  resolveDevice,
  type Tensor,
  tensor,
  toDevice,
  type VisionTransformer,
} from "../mod.ts";
import process from "node:process";

const card = { summary: "tour model", paper: "-", weights: "random init" };
const device = resolveDevice((process.env.ATTNZOO_DEVICE ?? "auto") as DeviceRequest);

function vitConfig(plugin: string): Record<string, unknown> {
  return {
    name: `tour_vit_${plugin}`,
    card,
    architecture: "vit",
    imageSize: 64,
    patchSize: 8,
    numClasses: 100,
    classToken: false, // mean-pooled, so every family fits (FLatten has no class token)
    dim: 96,
    depth: 2,
    heads: 4,
    attention: { plugin },
  };
}

function lmConfig(plugin: string): Record<string, unknown> {
  return {
    name: `tour_lm_${plugin}`,
    card,
    architecture: "lm",
    style: plugin === "lightning" ? "transnormer" : "llama",
    embedScale: plugin === "lightning",
    vocabSize: 512,
    dim: 96,
    depth: 2,
    heads: 4,
    mlpHidden: 256,
    attention: { plugin },
  };
}

/** Reads one value back, which waits for the device: timings then cover the work, not its launch. */
function settle(t: Tensor): Tensor {
  using flat = t.reshape([t.size]);
  using first = narrow(flat, 0, 0, 1);
  first.toFloat32Array();
  return t;
}

function count(parameters: Map<string, Tensor>): string {
  let n = 0;
  for (const t of parameters.values()) n += t.size;
  return `${(n / 1e6).toFixed(2)}M`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ")).join("\n");
}

console.log(`attnzoo tour on ${device}: ${listPlugins().length} plugins, ${listModels().length} pretrained configs\n`);
const rows = [["plugin", "model", "params", "forward", "ms", "generate", "tokens/s"]];
for (const plugin of listPlugins()) {
  if (plugin.nonCausal) {
    using model = buildModel(vitConfig(plugin.name), { device }) as VisionTransformer;
    using host = randn([8, 3, 64, 64], { seed: 1 });
    using images = toDevice(host, device);
    settle(model.forward(images)).dispose(); // warm-up
    const start = performance.now();
    using logits = settle(model.forward(images));
    rows.push([
      plugin.name,
      "ViT 2×96",
      count(model.parameters),
      `8 images → [${logits.shape}]`,
      (performance.now() - start).toFixed(1),
      "-",
      "-",
    ]);
  }
  if (plugin.causal) {
    using model = buildModel(lmConfig(plugin.name), { device }) as LanguageModel;
    using hostIds = tensor(Int32Array.from({ length: 2 * 64 }, (_, i) => (i * 37) % 512), { shape: [2, 64] });
    using ids = toDevice(hostIds, device);
    settle(model.forward(ids)).dispose(); // warm-up
    const start = performance.now();
    using logits = settle(model.forward(ids));
    const forwardMs = performance.now() - start;
    const t0 = performance.now();
    const [generated] = model.generate([[1, 2, 3, 4]], { maxNew: 16 });
    const tokensPerSecond = generated.length / ((performance.now() - t0) / 1000);
    rows.push([
      plugin.name,
      "LM 2×96",
      count(model.parameters),
      `2×64 tokens → [${logits.shape}]`,
      forwardMs.toFixed(1),
      generated.slice(0, 6).join(",") + ",…",
      tokensPerSecond.toFixed(0),
    ]);
  }
}
console.log(table(rows));
