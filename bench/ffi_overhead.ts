/**
 * FFI overhead: microseconds per tiny op called from TypeScript on the CUDA backend, under Deno
 * or Bun (`deno run -A bench/ffi_overhead.ts`, `bun bench/ffi_overhead.ts`). Levels: a bare
 * native call that does no GPU work (memory stats), a one-element op through the backend
 * (validation, allocation from the cache, kernel launch, free), the same op followed by a stream
 * synchronisation (a full round trip to the GPU), and a 2×2 matmul (adds cuBLASLt's per-call
 * descriptor setup and algorithm heuristic).
 *
 * @module
 */
import { registerBackend } from "../core/backend.ts";
import { DeviceUnavailableError } from "../core/errors.ts";
import { tensor } from "../core/tensor.ts";
import { type CudaBackend, loadCudaBackend } from "../core/backends/cuda/mod.ts";
import { runtimeName } from "../core/ffi/mod.ts";

registerBackend("cuda", loadCudaBackend);

function medianMicros(iterations: number, body: () => void): number {
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) body();
    rounds.push(((performance.now() - start) * 1000) / iterations);
  }
  rounds.sort((a, b) => a - b);
  return rounds[3];
}

let backend: CudaBackend;
try {
  backend = loadCudaBackend();
} catch (error) {
  if (!(error instanceof DeviceUnavailableError)) throw error;
  console.log(`ffi_overhead: skipped, ${error.message}`);
  backend = undefined as never;
}

if (backend !== undefined) {
  const x = backend.fromHost(tensor([1.5]));
  const m = backend.fromHost(tensor([[1, 2], [3, 4]]));
  const bodies: [string, () => void][] = [
    ["bare native call (memory stats)", () => backend.memoryStats()],
    ["tiny op (affine, 1 element)", () => backend.affine(x, 2, 1).dispose()],
    ["tiny op + synchronize", () => {
      backend.affine(x, 2, 1).dispose();
      backend.synchronize();
    }],
    ["tiny matmul (2×2)", () => backend.matmul(m, m).dispose()],
  ];
  for (const [, body] of bodies) for (let i = 0; i < 2000; i++) body(); // warm-up: JIT, allocator cache
  console.log(`ffi_overhead on ${runtimeName()}, ${backend.info.name} (sm_${backend.info.computeCapability})`);
  for (const [label, body] of bodies) {
    console.log(`${label.padEnd(34)} ${medianMicros(20000, body).toFixed(2).padStart(8)} µs`);
  }
  x.dispose();
  m.dispose();
}
