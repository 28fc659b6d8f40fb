// GFLOP/s of the CPU backend's f32 matmul at 512³ and 1024³, one thread vs all cores.
// Run: `deno run -A bench/cpu_matmul.ts` or `bun bench/cpu_matmul.ts`.
import { cpuParallelJobs, setCpuThreads, startCpuWorkers } from "../core/backends/cpu/cpu_backend.ts";
import { matmul } from "../core/ops.ts";
import { randn } from "../core/random.ts";

const WARMUP = 2;
const RUNS = 7;

function medianSeconds(run: () => void): number {
  for (let i = 0; i < WARMUP; i++) run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    run();
    times.push((performance.now() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(RUNS / 2)];
}

const runtime = "Bun" in globalThis ? "bun" : "deno";
const cores = await startCpuWorkers();
console.log(`attnzoo cpu matmul (f32), ${runtime}, ${cores} thread(s) available, median of ${RUNS} runs`);
for (const size of [512, 1024]) {
  using a = randn([size, size], { seed: 1 });
  using b = randn([size, size], { seed: 2 });
  const flops = 2 * size ** 3;
  for (const threads of cores > 1 ? [1, cores] : [1]) {
    setCpuThreads(threads);
    const jobs = cpuParallelJobs();
    const seconds = medianSeconds(() => matmul(a, b).dispose());
    const parallel = cpuParallelJobs() > jobs ? "workers" : "main thread only";
    console.log(
      `${size}³  threads=${threads}  ${(flops / seconds / 1e9).toFixed(2)} GFLOP/s  ` +
        `(${(seconds * 1000).toFixed(1)} ms, ${parallel})`,
    );
  }
}
setCpuThreads(cores);
