// Whole models of every attention family on CUDA against the same models on the CPU backend (same
// config and seed, hence the same weights): tiny ViTs and PVTs, and tiny LMs whose prompts span
// several chunks of the chunked mixers (lightning blocks of 64, agent chunks of 128), in f32 and
// bf16; and greedy generation on CUDA (decode states on the device) picks the CPU's tokens.
//
// Tolerances (relative L2 error of the logits):
// - f32: both devices compute every op in f32 (the CPU in f32/f64, cuBLAS and the kernels in f32)
//   and differ only in summation order, a few ulps (≈ 1e-7) per op; through a few dozen ops of two
//   blocks that stays far below 1e-4.
// - bf16: every op rounds its output to bf16 (ulp 2⁻⁷ relative, ≈ 8e-3) on both devices. Rounded
//   from f32 results that differ by ≈ 1e-6, the two devices agree except where a value sits on a
//   rounding boundary; there one of them is one bf16 ulp off, and later ops carry that on. A
//   fraction of elements one ulp apart gives an L2 error of a few 1e-3; 3e-2 (≈ 4 ulps over
//   every element) still fails any layout or indexing bug, which gives errors of order 1.
import "../../mod.ts";
import type { DType } from "../../core/dtype.ts";
import { toDevice } from "../../core/ops.ts";
import { randn } from "../../core/random.ts";
import { buildModel, type Model } from "../../core/registry.ts";
import { type Device, type Tensor, tensor } from "../../core/tensor.ts";
import type { LanguageModel } from "../../models/lm.ts";
import { assertEquals, assertRelativeError, relativeError } from "../_assert.ts";
import { test } from "../_harness.ts";
import { gpu } from "./_setup.ts";

const TOLERANCE: Readonly<Record<"f32" | "bf16", number>> = { f32: 1e-4, bf16: 3e-2 };
const card = { summary: "GPU model test", paper: "-", weights: "random" };

type Forward = Model & { forward(x: Tensor): Tensor };

const tinyVit = {
  architecture: "vit",
  imageSize: 32,
  patchSize: 8,
  numClasses: 10,
  dim: 48,
  depth: 2,
  heads: 3,
};
const tinyPvt = {
  architecture: "pvt",
  imageSize: 64,
  patchSize: 4,
  numClasses: 10,
  dims: [16, 32, 48, 64],
  heads: [1, 2, 3, 4],
  depths: [1, 1, 1, 1],
  mlpRatios: [2, 2, 2, 2],
};

/** Vision configs: a ViT per family (agent with agents, lightning bidirectional), PVTs with sr > 1. */
const VISION: [string, Record<string, unknown>, number[]][] = [
  ["vit softmax", { ...tinyVit, attention: { plugin: "softmax" } }, [2, 3, 32, 32]],
  ["vit sigmoid", { ...tinyVit, layerScale: 1e-4, attention: { plugin: "sigmoid", bias: 0 } }, [2, 3, 32, 32]],
  ["vit agent", { ...tinyVit, attention: { plugin: "agent", agentNum: 9 } }, [2, 3, 32, 32]],
  ["vit flatten", { ...tinyVit, classToken: false, attention: { plugin: "flatten" } }, [2, 3, 32, 32]],
  ["vit lightning", { ...tinyVit, classToken: false, attention: { plugin: "lightning" } }, [2, 3, 32, 32]],
  [
    "pvt agent",
    {
      ...tinyPvt,
      stages: [2, 1, 1, 1].map((srRatio) => ({ plugin: "agent", agentNum: 4, srRatio, projection: "q_kv" })),
    },
    [2, 3, 64, 64],
  ],
  [
    "pvt flatten",
    { ...tinyPvt, stages: [2, 1, 1, 1].map((srRatio) => ({ plugin: "flatten", srRatio, projection: "q_kv" })) },
    [2, 3, 64, 64],
  ],
];

const FAMILIES = ["softmax", "sigmoid", "agent", "flatten", "lightning"];

function lmConfig(plugin: string): Record<string, unknown> {
  return {
    name: `gpu_lm_${plugin}`,
    card,
    architecture: "lm",
    style: plugin === "lightning" ? "transnormer" : "llama",
    vocabSize: 61,
    dim: 32,
    depth: 2,
    heads: 4,
    mlpHidden: 48,
    embedScale: plugin === "lightning",
    hybridNorm: plugin !== "lightning",
    attention: plugin === "softmax" ? { plugin, alibi: true } : { plugin },
  };
}

/** Output of `model` (on `device`) for the host input, as host f32 values. */
function run(model: Forward, input: Tensor, device: Device): Float32Array {
  using placed = device === "cpu" ? input.reshape(input.shape) : toDevice(input, device);
  using out = model.forward(placed);
  return out.toFloat32Array();
}

/** Builds `config` on the CPU and on CUDA with one seed and compares `input`'s outputs. */
function compareDevices(label: string, config: Record<string, unknown>, input: Tensor, dtype: DType): void {
  using host = buildModel(config, { device: "cpu", dtype, seed: 5 }) as Forward;
  using device = buildModel(config, { device: "cuda", dtype, seed: 5 }) as Forward;
  const expected = run(host, input, "cpu");
  const got = run(device, input, "cuda");
  const bound = TOLERANCE[dtype as "f32" | "bf16"];
  console.log(`${label} ${dtype}: relative error cuda vs cpu ${relativeError(got, expected).toExponential(2)}`);
  assertRelativeError(got, expected, bound, `${label} ${dtype}`);
}

for (const [label, config, shape] of VISION) {
  test(`models on cuda: ${label} logits match the CPU backend (f32, bf16)`, () => {
    if (gpu(`models ${label}`) === undefined) return;
    for (const dtype of ["f32", "bf16"] as const) {
      using images = randn(shape, { seed: 11, dtype });
      compareDevices(label, { name: label.replace(" ", "_"), card, ...config }, images, dtype);
    }
  });
}

for (const plugin of FAMILIES) {
  test(`models on cuda: ${plugin} LM logits over 150 tokens match the CPU backend (f32, bf16)`, () => {
    if (gpu(`models lm ${plugin}`) === undefined) return;
    const ids = Int32Array.from({ length: 2 * 150 }, (_, i) => (i * 37 + 11) % 61);
    using input = tensor(ids, { shape: [2, 150] });
    for (const dtype of ["f32", "bf16"] as const) compareDevices(`lm ${plugin}`, lmConfig(plugin), input, dtype);
  });

  test(`models on cuda: ${plugin} LM greedy generation decodes on the device and picks the CPU's tokens`, () => {
    if (gpu(`models generate ${plugin}`) === undefined) return;
    using host = buildModel(lmConfig(plugin), { device: "cpu", seed: 9 }) as LanguageModel;
    using device = buildModel(lmConfig(plugin), { device: "cuda", seed: 9 }) as LanguageModel;
    const prompts = [[5, 17, 2, 40, 9], [1, 2, 3, 4, 5]];
    const expected = host.generate(prompts, { maxNew: 8 });
    assertEquals(device.generate(prompts, { maxNew: 8 }), expected, `${plugin} greedy tokens`);
  });
}
