/**
 * LM generation throughput on CUDA in bf16 with random weights: gala_softmax_1b and
 * gala_sigmoid_1b (24 layers, width 2048, 32 heads, vocabulary 32768) continue a 512-token prompt
 * by 128 tokens at batch 1 and 8, greedy and sampled (temperature 0.8, top-k 50, top-p 0.9; the
 * token is chosen on the GPU, only ids reach the host). Per case: the prefill time (generating
 * one token), the whole 128-token generation, and decode tokens/s = batch · 127 / (whole −
 * prefill). Each time is the median of 3 runs after one warm-up. Prints one JSON line per case;
 * given the JSON lines of `generate_torch.py` (PyTorch eager, same shapes, same run and GPU) as
 * its argument, also the ratio of each decode figure to PyTorch's for the same model, batch and
 * mode. `deno run -A bench/generate.ts [torch.jsonl]` with ATTNZOO_LIB_DIR pointing at built kernels.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import "../mod.ts";
import { backendFor } from "../core/backend.ts";
import type { CudaBackend } from "../core/backends/cuda/mod.ts";
import { DeviceUnavailableError } from "../core/errors.ts";
import { buildModel, modelConfig } from "../core/registry.ts";
import type { GenerateOptions, LanguageModel } from "../models/lm.ts";

const MODELS = ["gala_softmax_1b", "gala_sigmoid_1b"];
const BATCHES = [1, 8];
const PROMPT = 512;
const NEW = 128;
const TIMED = 3;
const MODES: Record<string, Omit<GenerateOptions, "maxNew">> = {
  greedy: {},
  sampled: { temperature: 0.8, topK: 50, topP: 0.9, seed: 1 },
};

/** A generation figure, as both scripts print it. */
interface Figure {
  side: string;
  model: string;
  batch: number;
  mode: string;
  prefillMs: number;
  generateMs: number;
  decodeTokensPerS: number;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

function prompts(vocab: number, batch: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length: PROMPT }, (_, i) => (i * 7919 + b * 31) % vocab));
}

/** Median milliseconds of generating `maxNew` tokens (each run ended by a device synchronisation). */
function timeGenerate(cuda: CudaBackend, model: LanguageModel, input: number[][], options: GenerateOptions): number {
  const times: number[] = [];
  for (let i = 0; i < TIMED; i++) {
    cuda.synchronize();
    const start = performance.now();
    model.generate(input, options);
    cuda.synchronize();
    times.push(performance.now() - start);
  }
  return median(times);
}

function printRatios(ours: Figure[], torchLines: string): void {
  const theirs = torchLines.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Figure);
  for (const mine of ours) {
    const other = theirs.find((t) => t.model === mine.model && t.batch === mine.batch && t.mode === mine.mode);
    if (other === undefined) continue;
    const ratio = (mine.decodeTokensPerS / other.decodeTokensPerS).toFixed(2);
    console.log(`ratio decode ${mine.model} batch ${mine.batch} ${mine.mode} / torch: ${ratio}`);
  }
}

let cuda: CudaBackend | undefined;
try {
  cuda = backendFor("cuda") as CudaBackend;
} catch (error) {
  if (!(error instanceof DeviceUnavailableError)) throw error;
  console.log(`bench/generate: skipped, ${error.message}`);
}

if (cuda !== undefined) {
  const figures: Figure[] = [];
  for (const name of MODELS) {
    using model = buildModel(modelConfig(name), { device: "cuda", dtype: "bf16", seed: 0 }) as LanguageModel;
    for (const batch of BATCHES) {
      const input = prompts(model.config.vocabSize, batch);
      for (const [mode, options] of Object.entries(MODES)) {
        model.generate(input, { ...options, maxNew: 4 }); // warm-up: kernels, caches, allocator
        const prefillMs = timeGenerate(cuda, model, input, { ...options, maxNew: 1 });
        const generateMs = timeGenerate(cuda, model, input, { ...options, maxNew: NEW });
        const figure: Figure = {
          side: "attnzoo",
          model: name,
          batch,
          mode,
          prefillMs: +prefillMs.toFixed(1),
          generateMs: +generateMs.toFixed(1),
          decodeTokensPerS: Math.round((batch * (NEW - 1)) / ((generateMs - prefillMs) / 1000)),
        };
        figures.push(figure);
        console.log(JSON.stringify(figure));
      }
    }
    cuda.emptyCache();
  }
  const torchFile = process.argv[2];
  if (torchFile !== undefined) printRatios(figures, readFileSync(torchFile, "utf8"));
}
