// Generation: decoding through each family's state (KV cache or recurrent state) picks the same
// tokens as re-running the full forward on the growing sequence; sampling honours k, p and the seed.
import "../../mod.ts";
import { Rng } from "../../core/random.ts";
import { buildModel, listPlugins } from "../../core/registry.ts";
import { tensor } from "../../core/tensor.ts";
import type { LanguageModel } from "../../models/lm.ts";
import { sampleTokens } from "../../core/ops.ts";
import type { SamplingOptions } from "../../models/mod.ts";
import { assert, assertEquals } from "../_assert.ts";
import { test } from "../_harness.ts";

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** One row's token through the sampling op, drawing from `rng` as generate does. */
function sampleToken(logits: Float32Array, options: SamplingOptions, rng: Rng): number {
  using row = tensor(logits, { shape: [1, logits.length] });
  const u = (options.temperature ?? 0) > 0 ? rng.uniform() : 0;
  using ids = sampleTokens(row, options, Float64Array.of(u));
  return ids.toTypedArray()[0];
}

function tinyLm(plugin: string, extra: Record<string, unknown> = {}): LanguageModel {
  return buildModel({
    name: `gen_${plugin}`,
    card: { summary: "generation test", paper: "-", weights: "-" },
    architecture: "lm",
    style: plugin === "lightning" ? "transnormer" : "llama",
    vocabSize: 61,
    dim: 32,
    depth: 2,
    heads: 4,
    mlpHidden: 48,
    attention: { plugin },
    ...extra,
  }, { device: "cpu", seed: 3 }) as LanguageModel;
}

function greedyByFullForward(model: LanguageModel, prompt: number[], steps: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < steps; i++) {
    using ids = tensor(Int32Array.from(seq), { shape: [1, seq.length] });
    using logits = model.forward(ids);
    const v = model.config.vocabSize;
    seq.push(argmax(logits.toFloat32Array().subarray((seq.length - 1) * v)));
  }
  return seq.slice(prompt.length);
}

for (const plugin of ["softmax", "sigmoid", "agent", "flatten", "lightning"]) {
  test(`generation (${plugin}): decoding through the mixer state equals greedy re-forwarding`, () => {
    if (!listPlugins().some((p) => p.name === plugin && p.causal)) {
      throw new Error(`${plugin} is not registered as causal`);
    }
    using model = tinyLm(plugin);
    const prompt = [5, 17, 2, 40, 9];
    assertEquals(model.generate([prompt], { maxNew: 6 }), [greedyByFullForward(model, prompt, 6)]);
  });
}

test("generation: batches decode independently; hybrid-norm and tied embeddings build and run", () => {
  using model = tinyLm("sigmoid", { hybridNorm: true, tieEmbeddings: true });
  assert(!model.parameters.has("lm_head.weight"), "tied head has no own weight");
  const both = model.generate([[1, 2, 3], [7, 8, 9]], { maxNew: 4 });
  assertEquals(both[0], model.generate([[1, 2, 3]], { maxNew: 4 })[0]);
  assertEquals(both[1], model.generate([[7, 8, 9]], { maxNew: 4 })[0]);
});

test("generation: an eos token stops that sequence only", () => {
  using model = tinyLm("softmax");
  const free = model.generate([[1, 2, 3]], { maxNew: 5 })[0];
  const stopped = model.generate([[1, 2, 3]], { maxNew: 5, eosToken: free[1] })[0];
  assertEquals(stopped, free.slice(0, free.indexOf(free[1]) + 1));
});

test("sampling: greedy is argmax; top-k never leaves the k best; top-p keeps the smallest nucleus", () => {
  const logits = Float32Array.from([0.1, 3, 2.5, -1, 2.9, 0]);
  assertEquals(sampleToken(logits, {}, new Rng(1)), 1);
  const seen = new Set<number>();
  const rng = new Rng(7);
  for (let i = 0; i < 2000; i++) seen.add(sampleToken(logits, { temperature: 1, topK: 3 }, rng));
  assertEquals([...seen].sort(), [1, 2, 4]);
  // probabilities ∝ e^x: the best holds 0.38 of the mass, so p = 0.45 also needs the second (0.72 together)
  const nucleus = new Set<number>();
  for (let i = 0; i < 2000; i++) nucleus.add(sampleToken(logits, { temperature: 1, topP: 0.45 }, rng));
  assertEquals([...nucleus].sort(), [1, 4]);
});

test("sampling: frequencies follow softmax(logits / T), and a seed repeats the draw", () => {
  const logits = Float32Array.from([1, 2, 0]);
  const rng = new Rng(11);
  const counts = [0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sampleToken(logits, { temperature: 2 }, rng)]++;
  const weights = [...logits].map((x) => Math.exp(x / 2));
  const total = weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < 3; i++) {
    const expected = weights[i] / total;
    assert(Math.abs(counts[i] / n - expected) < 0.015, `token ${i}: ${counts[i] / n} vs ${expected}`);
  }
  const draw = (seed: number) => {
    const r = new Rng(seed);
    return Array.from({ length: 20 }, () => sampleToken(logits, { temperature: 1 }, r));
  };
  assertEquals(draw(5), draw(5));
});
