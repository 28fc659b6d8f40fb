// The generation runtime on CUDA: the in-place slice write, RoPE and token sampling against the CPU
// backend on the same inputs (the sampler must pick the same ids), and whole-LM generation through
// the capacity KV cache against greedy re-forwarding of the growing sequence on the GPU.
import "../../mod.ts";
import { sampleTokens, toDevice } from "../../core/ops.ts";
import { randn, Rng } from "../../core/random.ts";
import { buildModel } from "../../core/registry.ts";
import { tensor } from "../../core/tensor.ts";
import type { LanguageModel } from "../../models/lm.ts";
import { assert, assertClose, assertEquals } from "../_assert.ts";
import { test } from "../_harness.ts";
import { referenceToken } from "../cpu/_sampling_reference.ts";
import { cpu, gpu, TOLERANCE } from "./_setup.ts";

test("cuda writeSlice = cpu writeSlice along every dim, in f32, bf16 and i32", () => {
  const g = gpu("cuda writeSlice");
  const host = cpu();
  if (g === undefined || host === undefined) return;
  for (const dtype of ["f32", "bf16", "i32"] as const) {
    for (const dim of [0, 1, 2, 3]) {
      const shape = [3, 4, 5, 6];
      const srcShape = shape.map((s, i) => (i === dim ? 2 : s));
      using dstHost = randn(shape, { seed: dim, dtype: dtype === "i32" ? "f32" : dtype });
      using srcHost = randn(srcShape, { seed: 10 + dim, dtype: dtype === "i32" ? "f32" : dtype });
      using dstTyped = dtype === "i32" ? host.cast(dstHost, "i32") : host.clone(dstHost);
      using srcTyped = dtype === "i32" ? host.cast(srcHost, "i32") : host.clone(srcHost);
      using dstDevice = g.fromHost(dstTyped);
      using srcDevice = g.fromHost(srcTyped);
      host.writeSlice(dstTyped, srcTyped, dim, 1);
      g.writeSlice(dstDevice, srcDevice, dim, 1);
      assertEquals([...dstDevice.toTypedArray()], [...dstTyped.toTypedArray()], `${dtype} dim ${dim}`);
    }
  }
});

test("cuda rope = cpu rope (f32, f16, bf16; offsets up to a million positions)", () => {
  const g = gpu("cuda rope");
  const host = cpu();
  if (g === undefined || host === undefined) return;
  for (const dtype of ["f32", "f16", "bf16"] as const) {
    for (
      const [shape, offset, theta] of [[[2, 4, 7, 64], 0, 10000], [[1, 3, 5, 128], 1_000_000, 500000], [
        [8, 32],
        17,
        10,
      ]] as const
    ) {
      using x = randn([...shape], { seed: 5, dtype });
      using expected = host.rope(x, offset, theta);
      using onDevice = g.fromHost(x);
      using got = g.rope(onDevice, offset, theta);
      assertClose(got.toFloat32Array(), expected.toFloat32Array(), TOLERANCE[dtype], `${dtype} offset ${offset}`);
    }
  }
});

const OPTIONS = [
  {},
  { temperature: 1 },
  { temperature: 0.7, topK: 50 },
  { temperature: 1.3, topP: 0.6 },
  { temperature: 0.9, topK: 40, topP: 0.9 },
  { temperature: 2, topK: 1 },
];

test("cuda sampleTokens picks the cpu's ids (and the full-sort rule's) for every option, draw and dtype", () => {
  if (gpu("cuda sampleTokens") === undefined) return;
  const rng = new Rng(8);
  let draws = 0;
  let differ = 0;
  for (const dtype of ["f32", "bf16"] as const) {
    for (const [batch, vocab] of [[32, 1], [32, 1000], [8, 50257]]) {
      // rounded to eighths: many exact ties, and the ranking must break them by index
      const values = Float32Array.from({ length: batch * vocab }, () => Math.round(rng.normal() * 24) / 8);
      using host = tensor(values, { shape: [batch, vocab], dtype });
      using device = toDevice(host, "cuda");
      const rows = host.toFloat32Array();
      for (const options of OPTIONS) {
        for (let round = 0; round < 3; round++) {
          const uniforms = Float64Array.from({ length: batch }, () => rng.uniform());
          using onCpu = sampleTokens(host, options, uniforms);
          using onGpu = sampleTokens(device, options, uniforms);
          const cpuIds = [...onCpu.toTypedArray()];
          const gpuIds = [...onGpu.toTypedArray()];
          const label = `${dtype} [${batch}, ${vocab}] ${JSON.stringify(options)}`;
          if (vocab <= 1000) {
            const reference = uniforms.map((u, b) =>
              referenceToken(rows.subarray(b * vocab, (b + 1) * vocab), options, u)
            );
            assertEquals(cpuIds, [...reference], `cpu vs reference ${label}`);
          }
          if ((options.temperature ?? 0) === 0 || options.topK === 1) {
            assertEquals(gpuIds, cpuIds, label);
          }
          draws += batch;
          differ += gpuIds.filter((id, b) => id !== cpuIds[b]).length;
        }
      }
    }
  }
  // weights are f32 exps on the GPU and f64 ones on the CPU: a draw within ~1e-7 of a boundary
  // between two tokens may go either way, so a handful in thousands is allowed, no more
  console.log(`cuda sampleTokens: ${differ} of ${draws} draws differ from the cpu's`);
  assert(differ <= Math.ceil(draws / 1000), `${differ} of ${draws} draws differ`);
});

const card = { summary: "GPU generation test", paper: "-", weights: "random" };

function lm(plugin: string): LanguageModel {
  return buildModel({
    name: `gpu_gen_${plugin}`,
    card,
    architecture: "lm",
    vocabSize: 97,
    dim: 64,
    depth: 2,
    heads: 4,
    kvHeads: 2,
    mlpHidden: 96,
    hybridNorm: true,
    attention: plugin === "sigmoid" ? { plugin, alibi: true, qkNorm: "rms" } : { plugin, alibi: true },
  }, { device: "cuda", seed: 4 }) as LanguageModel;
}

/** Greedy tokens by running the full forward on the growing sequence (no decode state). */
function greedyByForward(model: LanguageModel, prompts: number[][], steps: number): number[][] {
  const seqs = prompts.map((p) => [...p]);
  for (let t = 0; t < steps; t++) {
    using host = tensor(Int32Array.from(seqs.flat()), { shape: [seqs.length, seqs[0].length] });
    using ids = toDevice(host, "cuda");
    using logits = model.forward(ids);
    const values = logits.toFloat32Array();
    const v = model.config.vocabSize;
    const n = seqs[0].length;
    seqs.forEach((seq, b) => {
      const row = values.subarray((b * n + n - 1) * v, (b * n + n) * v);
      let best = 0;
      for (let i = 1; i < v; i++) if (row[i] > row[best]) best = i;
      seq.push(best);
    });
  }
  return seqs.map((seq, b) => seq.slice(prompts[b].length));
}

for (const plugin of ["softmax", "sigmoid"]) {
  test(`cuda ${plugin} LM: generation through the capacity KV cache = greedy re-forwarding (f32)`, () => {
    if (gpu(`cuda ${plugin} generation`) === undefined) return;
    // a 9-token prompt then 20 tokens: the cache grows 9 → 18 → 36 while decoding
    const prompts = [[3, 14, 15, 92, 65, 35, 89, 79, 32], [2, 71, 82, 81, 82, 84, 59, 4, 52]];
    // f32: the two paths differ only in summation order, far below the gaps between the best logits
    using model = lm(plugin);
    assertEquals(model.generate(prompts, { maxNew: 20 }), greedyByForward(model, prompts, 20), plugin);
  });
}

test("cuda LM sampled generation repeats for a seed and matches the CPU model's tokens (f32)", () => {
  if (gpu("cuda sampled generation") === undefined) return;
  using model = lm("softmax");
  const config = model.config;
  using hostModel = buildModel(config, { device: "cpu", seed: 4 }) as LanguageModel;
  const options = { maxNew: 12, temperature: 0.9, topK: 20, topP: 0.95, seed: 6 };
  const prompts = [[1, 2, 3, 4], [50, 60, 70, 80]];
  const first = model.generate(prompts, options);
  assertEquals(model.generate(prompts, options), first);
  assertEquals(first, hostModel.generate(prompts, options));
  assert(JSON.stringify(model.generate(prompts, { ...options, seed: 7 })) !== JSON.stringify(first), "seed matters");
});
