// Whole models against the official PyTorch models (tests/fixtures/gen_models.py): our CPU
// forward, with the official weights loaded by name, reproduces the official logits.
import "../../mod.ts";
import { applyStateDict, readSafetensors } from "../../core/io/mod.ts";
import { buildModel, type Model } from "../../core/registry.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import type { LanguageModel } from "../../models/lm.ts";
import { assertEquals, assertRelativeError } from "../_assert.ts";
import { test } from "../_harness.ts";

const fixture = (name: string): string => new URL(`../fixtures/models/${name}`, import.meta.url).pathname;
const card = { summary: "parity fixture", paper: "-", weights: "random (official code)" };

/** Splits a fixture into the state dict and the named extras (input, logits, …). */
function readFixture(name: string, extras: string[]): { weights: Map<string, Tensor>; extra: Map<string, Tensor> } {
  const all = readSafetensors(fixture(`${name}.safetensors`));
  const extra = new Map<string, Tensor>();
  for (const key of extras) {
    extra.set(key, all.get(key)!);
    all.delete(key);
  }
  return { weights: all, extra };
}

function checkVision(name: string, config: Record<string, unknown>, weightsFile?: string): void {
  const { weights, extra } = readFixture(name, ["input", "logits"]);
  using model = buildModel({ name, card, ...config }, {
    device: "cpu",
    weights: weightsFile && fixture(weightsFile),
  }) as
    & Model
    & { forward(x: Tensor): Tensor };
  if (weightsFile === undefined) applyStateDict(model.parameters, weights, { source: name });
  else for (const t of weights.values()) t.dispose();
  using input = extra.get("input")!;
  using expected = extra.get("logits")!;
  using logits = model.forward(input);
  assertEquals(logits.shape, expected.shape, `${name} logits shape`);
  assertRelativeError(logits.toFloat32Array(), expected.toFloat32Array(), 1e-4, `${name} logits`);
}

test("parity: timm DeiT (softmax blocks) logits", () => {
  checkVision("deit_tiny", {
    architecture: "vit",
    imageSize: 32,
    patchSize: 8,
    numClasses: 10,
    dim: 48,
    depth: 2,
    heads: 3,
    attention: { plugin: "softmax" },
  });
});

test("parity: official Agent-DeiT (agent blocks 0–1, softmax after) from its .pth", () => {
  checkVision("agent_deit", {
    architecture: "vit",
    imageSize: 32,
    patchSize: 8,
    numClasses: 10,
    dim: 48,
    depth: 4,
    heads: 3,
    attention: [{ plugin: "agent", blocks: [0, 2], agentNum: 9 }, { plugin: "softmax", blocks: [2, 4] }],
  }, "agent_deit.pth");
});

const pvt = {
  architecture: "pvt",
  imageSize: 64,
  patchSize: 4,
  numClasses: 10,
  dims: [16, 32, 48, 64],
  heads: [1, 2, 3, 4],
  depths: [1, 1, 1, 1],
  mlpRatios: [2, 2, 2, 2],
};

test("parity: official Agent-PVT (agent sr 2 in stage 1) logits", () => {
  checkVision("agent_pvt", {
    ...pvt,
    stages: [2, 1, 1, 1].map((srRatio) => ({ plugin: "agent", agentNum: 4, srRatio, projection: "q_kv" })),
  });
});

test("parity: official FLatten-PVT (sr 2 in stage 1) logits", () => {
  checkVision("flatten_pvt", {
    ...pvt,
    unusedFinalNorm: true,
    stages: [2, 1, 1, 1].map((srRatio) => ({ plugin: "flatten", srRatio, projection: "q_kv" })),
  });
});

test("parity: HF TransNormerLLM logits and greedy generation", () => {
  const { weights, extra } = readFixture("transnormer", ["input", "logits", "prompt", "greedy"]);
  using model = buildModel({
    name: "transnormer_tiny",
    card,
    architecture: "lm",
    style: "transnormer",
    vocabSize: 97,
    dim: 64,
    depth: 2,
    heads: 4,
    mlpHidden: 96,
    embedScale: true,
    attention: { plugin: "lightning", useLrpeList: [1, 0] },
  }, { device: "cpu" }) as LanguageModel;
  applyStateDict(model.parameters, weights, { source: "transnormer" });
  using ids = tensor(Int32Array.from(extra.get("input")!.toFloat32Array()), { shape: extra.get("input")!.shape });
  using logits = model.forward(ids);
  assertRelativeError(logits.toFloat32Array(), extra.get("logits")!.toFloat32Array(), 1e-4, "transnormer logits");
  const prompt = [...extra.get("prompt")!.toFloat32Array()];
  const greedy = [...extra.get("greedy")!.toFloat32Array()];
  assertEquals(model.generate([prompt], { maxNew: greedy.length }), [greedy], "greedy tokens");
  for (const t of extra.values()) t.dispose();
});

test("vit: other image sizes resize the position embedding; grid-built families refuse them", () => {
  const config = {
    name: "resize",
    card,
    architecture: "vit",
    imageSize: 32,
    patchSize: 8,
    numClasses: 10,
    dim: 48,
    depth: 1,
    heads: 3,
    classToken: false,
  };
  using softmaxVit = buildModel({ ...config, attention: { plugin: "softmax" } }, { device: "cpu" }) as
    & Model
    & { forward(x: Tensor): Tensor };
  // a pos_embed that is constant over the grid stays constant when resized, so a 48×48 image made
  // of a 32×32 image's patches (here: all patches identical) gives the same mean-pooled logits
  const pos = softmaxVit.parameters.get("pos_embed")!;
  const values = pos.toFloat32Array();
  for (let t = 1; t < 16; t++) values.copyWithin(t * 48, 0, 48);
  softmaxVit.parameters.set("pos_embed", tensor(values, { shape: pos.shape }));
  pos.dispose();
  const patch = Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => Math.sin(i));
  const image = (size: number): Tensor => {
    const data = new Float32Array(3 * size * size);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) data[(c * size + y) * size + x] = patch[(c * 8 + (y % 8)) * 8 + (x % 8)];
      }
    }
    return tensor(data, { shape: [1, 3, size, size] });
  };
  using small = image(32);
  using large = image(48);
  using a = softmaxVit.forward(small);
  using b = softmaxVit.forward(large);
  assertRelativeError(b.toFloat32Array(), a.toFloat32Array(), 1e-5, "logits at 48×48 vs 32×32");
  using agentVit = buildModel({ ...config, attention: { plugin: "agent", agentNum: 4 } }, { device: "cpu" }) as
    & Model
    & { forward(x: Tensor): Tensor };
  let refused = false;
  try {
    agentVit.forward(large).dispose();
  } catch (err) {
    refused = (err as Error).name === "ShapeError";
  }
  assertEquals(refused, true, "agent ViT at another grid throws a ShapeError");
});

test("vit: a batch of 5 gives each image's logits alone (the class token repeated over any batch size)", () => {
  using vit = buildModel({
    name: "batch",
    card,
    architecture: "vit",
    imageSize: 32,
    patchSize: 8,
    numClasses: 10,
    dim: 48,
    depth: 1,
    heads: 3,
    attention: { plugin: "softmax" },
  }, { device: "cpu", seed: 3 }) as Model & { forward(x: Tensor): Tensor };
  const pixels = 3 * 32 * 32;
  const images = Float32Array.from({ length: 5 * pixels }, (_, i) => Math.sin(0.37 * i));
  using batch = tensor(images, { shape: [5, 3, 32, 32] });
  using logits = vit.forward(batch);
  const all = logits.toFloat32Array();
  for (let i = 0; i < 5; i++) {
    using one = tensor(images.slice(i * pixels, (i + 1) * pixels), { shape: [1, 3, 32, 32] });
    using alone = vit.forward(one);
    assertRelativeError(all.slice(i * 10, (i + 1) * 10), alone.toFloat32Array(), 1e-6, `image ${i}`);
  }
});
