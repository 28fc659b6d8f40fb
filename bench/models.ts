/**
 * Whole-model throughput on CUDA in bf16 with random weights: DeiT-S and ViT-B/16 images/s at
 * batch 64 (224²), and TransNormerLLM-1B prefill tokens/s at batch 1 × 2048 tokens (its released
 * Lightning block of 64, then blocks of 256 and 2048: the same math in fewer, larger chunks; 2048
 * is the one-chunk quadratic form that models_torch.py runs). Each figure
 * is the median of timed forwards after warm-up forwards, each ended by a device synchronisation.
 * Prints one JSON line per model; given the JSON lines of `models_torch.py` (the PyTorch side, same
 * run and GPU) as its argument, also the ratio of each figure to every PyTorch figure of that model.
 * `deno run -A bench/models.ts [torch.jsonl]` or `bun bench/models.ts [torch.jsonl]` (with
 * ATTNZOO_LIB_DIR pointing at built kernels).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import "../mod.ts";
import { backendFor } from "../core/backend.ts";
import type { CudaBackend } from "../core/backends/cuda/mod.ts";
import { DeviceUnavailableError } from "../core/errors.ts";
import { toDevice } from "../core/ops.ts";
import { randn } from "../core/random.ts";
import { buildModel, modelConfig } from "../core/registry.ts";
import { type Tensor, tensor } from "../core/tensor.ts";

/** One benchmark: a registered config (optionally changed) and its input on the host. */
interface Case {
  label: string;
  model: string;
  change?: (config: Record<string, unknown>) => Record<string, unknown>;
  input: () => Tensor;
  /** Items (images or tokens) per forward. */
  items: number;
  unit: "images/s" | "tokens/s";
}

const WARMUP = 2;
const TIMED = 5;

const CASES: Case[] = [
  {
    label: "deit_small_patch16_224",
    model: "deit_small_patch16_224",
    input: () => randn([64, 3, 224, 224], { seed: 1, dtype: "bf16" }),
    items: 64,
    unit: "images/s",
  },
  {
    label: "vit_base_patch16_224",
    model: "vit_base_patch16_224",
    input: () => randn([64, 3, 224, 224], { seed: 1, dtype: "bf16" }),
    items: 64,
    unit: "images/s",
  },
  {
    label: "transnormer_llm_1b (block 64)",
    model: "transnormer_llm_1b",
    input: () => tensor(Int32Array.from({ length: 2048 }, (_, i) => (i * 7919) % 64000), { shape: [1, 2048] }),
    items: 2048,
    unit: "tokens/s",
  },
  ...[256, 2048].map((blockSize): Case => ({
    label: `transnormer_llm_1b (block ${blockSize})`,
    model: "transnormer_llm_1b",
    change: (c) => ({ ...c, attention: { ...(c.attention as object), blockSize } }),
    input: () => tensor(Int32Array.from({ length: 2048 }, (_, i) => (i * 7919) % 64000), { shape: [1, 2048] }),
    items: 2048,
    unit: "tokens/s",
  })),
];

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

let cuda: CudaBackend | undefined;
try {
  cuda = backendFor("cuda") as CudaBackend;
} catch (error) {
  if (!(error instanceof DeviceUnavailableError)) throw error;
  console.log(`bench/models: skipped, ${error.message}`);
}

/** One throughput figure, as both scripts print it. */
interface Figure {
  side: string;
  model: string;
  unit: string;
  throughput: number;
}

/** Ratios of our figures to PyTorch's for the same model (the label's first word). */
function printRatios(ours: Figure[], torchLines: string): void {
  const theirs = torchLines.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Figure);
  for (const mine of ours) {
    const base = mine.model.split(" ")[0];
    for (const other of theirs.filter((t) => t.model.split(" ")[0] === base)) {
      const ratio = (mine.throughput / other.throughput).toFixed(2);
      console.log(`ratio ${mine.model} / torch ${other.model}: ${ratio}`);
    }
  }
}

/** With $ATTNZOO_CUDA_PROFILE set: one more forward, each op synchronised, its top ops by time. */
function printOpProfile(backend: CudaBackend, model: { forward(x: Tensor): Tensor }, input: Tensor): void {
  if (backend.takeOpProfile() === undefined) return;
  const start = performance.now();
  model.forward(input).dispose();
  backend.synchronize();
  const total = performance.now() - start;
  const table = backend.takeOpProfile() ?? [];
  const timed = table.reduce((sum, row) => sum + row.ms, 0);
  console.log(`  profile: ${total.toFixed(2)} ms serialised forward, ${timed.toFixed(2)} ms in ops`);
  for (const row of table.slice(0, 15)) {
    const share = ((100 * row.ms) / total).toFixed(1);
    console.log(
      `  ${row.op.padEnd(28)} ${String(row.calls).padStart(6)} calls ${row.ms.toFixed(2).padStart(9)} ms ${share}%`,
    );
  }
}

if (cuda !== undefined) {
  const figures: Figure[] = [];
  for (const c of CASES) {
    const base = modelConfig(c.model) as unknown as Record<string, unknown>;
    const config = c.change?.(base) ?? base;
    using model = buildModel(config, { device: "cuda", dtype: "bf16", seed: 0 }) as unknown as {
      forward(x: Tensor): Tensor;
      [Symbol.dispose](): void;
    };
    using host = c.input();
    using input = toDevice(host, "cuda");
    cuda.resetPeak();
    const times: number[] = [];
    for (let i = 0; i < WARMUP + TIMED; i++) {
      cuda.synchronize();
      const start = performance.now();
      model.forward(input).dispose();
      cuda.synchronize();
      if (i >= WARMUP) times.push((performance.now() - start) / 1000);
    }
    const seconds = median(times);
    const peakGiB = +(cuda.memoryStats().peakBytes / 2 ** 30).toFixed(2);
    const figure = { side: "attnzoo", model: c.label, unit: c.unit, throughput: Math.round(c.items / seconds) };
    figures.push(figure);
    console.log(JSON.stringify({ ...figure, ms: +(seconds * 1000).toFixed(2), peakGiB }));
    printOpProfile(cuda, model, input);
    cuda.emptyCache();
  }
  const torchFile = process.argv[2];
  if (torchFile !== undefined) printRatios(figures, readFileSync(torchFile, "utf8"));
}
