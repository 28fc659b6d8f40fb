/**
 * The zoo tour (`npm start`, `deno task start`, `bun run start`): every registered attention
 * plugin, built as a vision mixer and as a causal LM mixer on the best available device, run
 * forward once and (for LMs) decoded token by token, with a table of parameters and speed.
 */
import {
  createMixer,
  DeviceUnavailableError,
  listModels,
  listPlugins,
  matmul,
  type MixerSpec,
  randn,
  resolveDevice,
  type Tensor,
  toDevice,
} from "../mod.ts";

function ms(start: number): number {
  return performance.now() - start;
}

function paramCount(parameters: Map<string, Tensor>): number {
  let n = 0;
  for (const t of parameters.values()) n += t.size;
  return n;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ")).join("\n");
}

let device: "cpu" | "cuda" = "cpu";
try {
  device = resolveDevice("auto");
} catch (err) {
  if (!(err instanceof DeviceUnavailableError)) throw err;
}
console.log(`attnzoo tour on ${device}\n`);

const plugins = listPlugins();
console.log(table([
  ["plugin", "title", "arXiv", "causal", "vision", "cuda", "configs"],
  ...plugins.map((
    p,
  ) => [p.name, p.title, p.arxiv, String(p.causal), String(p.nonCausal), String(p.cuda), String(p.models)]),
]));
console.log(`\n${listModels().length} pretrained configs registered\n`);

{
  const n = 512;
  using a = randn([n, n], { seed: 1 });
  using b = randn([n, n], { seed: 2 });
  matmul(a, b).dispose();
  const start = performance.now();
  const runs = 5;
  for (let i = 0; i < runs; i++) matmul(a, b).dispose();
  const seconds = ms(start) / 1000 / runs;
  console.log(`matmul ${n}³ f32 on ${device}: ${(2 * n ** 3 / seconds / 1e9).toFixed(1)} GFLOP/s\n`);
}

const dim = 64;
const heads = 4;
const rows: string[][] = [["plugin", "mode", "params", "tokens", "forward ms", "decode tok/s"]];
for (const summary of plugins) {
  const modes: ("vision" | "lm")[] = [];
  if (summary.nonCausal) modes.push("vision");
  if (summary.causal) modes.push("lm");
  for (const mode of modes) {
    const grid = [8, 8] as const;
    const tokens = mode === "vision" ? grid[0] * grid[1] : 64;
    const spec: MixerSpec = {
      dim,
      heads,
      causal: mode === "lm",
      layer: 0,
      layers: 2,
      grid: mode === "vision" ? grid : undefined,
      qkvBias: mode === "vision",
      dtype: "f32",
      device: summary.cuda ? device : "cpu",
      seed: 0,
    };
    using mixer = createMixer(summary.name, spec);
    using host = randn([2, tokens, dim], { seed: 3 });
    using x = toDevice(host, spec.device);
    let start = performance.now();
    mixer.forward(x).dispose();
    const forwardMs = ms(start);
    let decode = "-";
    if (mode === "lm" && mixer.createState !== undefined && mixer.step !== undefined) {
      using state = mixer.createState(1);
      using oneHost = randn([1, 1, dim], { seed: 4 });
      using one = toDevice(oneHost, spec.device);
      const steps = 32;
      start = performance.now();
      for (let t = 0; t < steps; t++) mixer.step(one, state).dispose();
      decode = (steps / (ms(start) / 1000)).toFixed(0);
    }
    rows.push([
      summary.name,
      `${mode} (${spec.device})`,
      String(paramCount(mixer.parameters)),
      `2×${tokens}`,
      forwardMs.toFixed(2),
      decode,
    ]);
  }
}
console.log(table(rows));
