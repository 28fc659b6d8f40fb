/**
 * Bandwidth of the CUDA runtime's memory-bound ops at DeiT-S batch-64 bf16 shapes: each op's bytes
 * read and written once, divided by its device time (the median of rounds of back-to-back calls,
 * each round ended by a synchronisation, so FFI time overlaps the kernels as in a model), and the
 * fraction of the H100's HBM peak (3.35 TB/s) that is. One JSON line per op.
 * `deno run -A bench/runtime_ops.ts` or `bun bench/runtime_ops.ts` (with ATTNZOO_LIB_DIR pointing
 * at built kernels).
 *
 * @module
 */
import { registerBackend } from "../core/backend.ts";
import { type CudaBackend, loadCudaBackend } from "../core/backends/cuda/mod.ts";
import { DeviceUnavailableError } from "../core/errors.ts";
import { randn } from "../core/random.ts";
import type { Tensor } from "../core/tensor.ts";

registerBackend("cuda", loadCudaBackend);

const HBM_PEAK_GBS = 3350;
const CALLS = 50;
const ROUNDS = 7;

/** Median microseconds per call of `op` over rounds of CALLS calls. */
function timeMicros(backend: CudaBackend, op: () => Tensor): number {
  for (let i = 0; i < 5; i++) op().dispose();
  backend.synchronize();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    for (let i = 0; i < CALLS; i++) op().dispose();
    backend.synchronize();
    rounds.push(((performance.now() - start) * 1000) / CALLS);
  }
  rounds.sort((a, b) => a - b);
  return rounds[ROUNDS >> 1];
}

let backend: CudaBackend | undefined;
try {
  backend = loadCudaBackend();
} catch (error) {
  if (!(error instanceof DeviceUnavailableError)) throw error;
  console.log(`runtime_ops: skipped, ${error.message}`);
}

if (backend !== undefined) {
  const g = backend;
  const place = (shape: number[], seed: number) => {
    using host = randn(shape, { seed, dtype: "bf16" });
    return g.fromHost(host);
  };
  const [b, n, c, h, d] = [64, 197, 384, 6, 64];
  using tokens = place([b, n, c], 1);
  using other = place([b, n, c], 2);
  using bias = place([c], 3);
  using weight = place([c], 4);
  using hidden = place([b, n, 4 * c], 5);
  using scores = place([b, h, n, n], 6);
  using qkv = place([b, n, 3, h, d], 7);
  using heads = place([b, h, n, d], 8);
  using patches = place([b, c, 196], 9);
  const bytes = (...xs: Tensor[]) => xs.reduce((acc, x) => acc + x.size * 2, 0);
  const cases: [string, () => Tensor, number][] = [
    ["add [64,197,384] + same", () => g.binary("add", tokens, other), bytes(tokens, other, tokens)],
    ["add [64,197,384] + bias [384]", () => g.binary("add", tokens, bias), bytes(tokens, tokens)],
    ["gelu [64,197,1536]", () => g.gelu(hidden), bytes(hidden, hidden)],
    ["affine [64,6,197,197]", () => g.affine(scores, 0.125), bytes(scores, scores)],
    ["softmax [64,6,197,197]", () => g.softmax(scores, -1), bytes(scores, scores)],
    ["layerNorm [64,197,384]", () => g.layerNorm(tokens, weight, bias, 1e-6), bytes(tokens, tokens)],
    ["permute [64,197,3,6,64] → [3,64,6,197,64]", () => g.permute(qkv, [2, 0, 3, 1, 4]), bytes(qkv, qkv)],
    ["permute [64,6,197,64] → [64,197,6,64]", () => g.permute(heads, [0, 2, 1, 3]), bytes(heads, heads)],
    ["permute [64,384,196] → [64,196,384]", () => g.permute(patches, [0, 2, 1]), bytes(patches, patches)],
    ["narrow [64,197,3,6,64] dim 2", () => g.narrow(qkv, 2, 1, 1), bytes(heads, heads)],
    ["concat 2 × [64,197,384] dim 2", () => g.concat([tokens, other], 2), 2 * bytes(tokens, other)],
    ["cast [64,197,384] bf16 → f32", () => g.cast(tokens, "f32"), bytes(tokens) * 3],
  ];
  for (const [label, op, moved] of cases) {
    const micros = timeMicros(g, op);
    const gbs = moved / micros / 1e3;
    console.log(JSON.stringify({
      op: label,
      us: Number(micros.toFixed(1)),
      GBs: Math.round(gbs),
      ofPeak: Number((gbs / HBM_PEAK_GBS).toFixed(2)),
    }));
  }
}
