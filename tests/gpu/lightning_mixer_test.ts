// The lightning plugin's own CUDA kernels through the plugin contract: the backend opens them from
// the manifest, the mixer runs its attention on them in bf16 (q, k, v read in place from the
// projection, o written as merged heads), and its outputs match the CPU mixer (f32, same seed hence
// the same weights) and the CUDA mixer composed of core ops, for the forward and for decoding
// (first chunk through the blocked kernel into a fresh state, a longer chunk after the state, then
// single tokens and a short chunk through the recurrent kernel).
//
// Tolerance: relative L2 error 3e-2 in bf16, as tests/gpu/models_test.ts argues (one bf16 ulp is
// ≈ 8e-3; weights and activations are rounded to bf16 on the GPU side); layout, decay or state bugs
// give errors of order 1.
import "../../mod.ts";
import { narrow } from "../../core/ops.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { randn } from "../../core/random.ts";
import { createMixer, getPlugin } from "../../core/registry.ts";
import { assert, assertRelativeError } from "../_assert.ts";
import { test } from "../_harness.ts";
import { bf16OnCuda, gpu, mixerSpec } from "./_setup.ts";

const BF16 = 3e-2;
const BATCH = 2;
const LENGTH = 150; // not a multiple of the kernels' 64-token blocks

const spec = (device: "cpu" | "cuda", overrides: Partial<MixerSpec>): MixerSpec =>
  mixerSpec(device, { layer: 1, layers: 4, seed: 5, ...overrides });

const cases: [string, Partial<MixerSpec>][] = [
  ["causal, layer 0 (LRPE: q/k 256 wide, v 128)", { heads: 2, layer: 0 }],
  ["causal, last layer (decay ≈ 1), head dim 64", { heads: 4, layer: 3 }],
  ["bidirectional, layer 1, 6 heads of 64", { dim: 384, heads: 6, causal: false }],
  ["bidirectional, layer 0 (LRPE: q/k 128 wide)", { dim: 384, heads: 6, causal: false, layer: 0 }],
];

test("lightning: the backend opens the lightning plugin's kernels from its manifest", () => {
  const cuda = gpu("lightning kernels load");
  if (cuda === undefined) return;
  const kernels = cuda.pluginKernels(getPlugin("lightning"));
  assert(kernels !== undefined && typeof kernels.symbols.attnzoo_lightning_forward === "function", "forward bound");
  assert(typeof kernels.symbols.attnzoo_lightning_step === "function", "step bound");
});

for (const [label, geometry] of cases) {
  test(`lightning mixer on the CUDA kernels (bf16) = CPU mixer (f32): ${label}, B ${BATCH}, N ${LENGTH}`, () => {
    if (gpu(`lightning mixer ${label}`) === undefined) return;
    const dim = geometry.dim ?? 256;
    using x = randn([BATCH, LENGTH, dim], { seed: 4 });
    using cpuMixer = createMixer("lightning", spec("cpu", geometry), {});
    using fusedMixer = createMixer("lightning", spec("cuda", geometry), {});
    // core ops on CUDA, with another block size: the kernels' results do not depend on it
    using eagerMixer = getPlugin("lightning").ops.cuda!.createMixer(spec("cuda", geometry), { blockSize: 32 });
    using expected = cpuMixer.forward(x);
    using xCuda = bf16OnCuda(x);
    using fused = fusedMixer.forward(xCuda);
    using eager = eagerMixer.forward(xCuda);
    assertRelativeError(fused.toFloat32Array(), expected.toFloat32Array(), BF16, "fused vs cpu");
    assertRelativeError(fused.toFloat32Array(), eager.toFloat32Array(), BF16, "fused vs core ops on cuda");
    if (geometry.causal === false) return;
    using state = fusedMixer.createState!(BATCH);
    const decoded = new Float32Array(BATCH * LENGTH * dim);
    const chunks = [[0, 100], [100, 20], ...Array.from({ length: 20 }, (_, i) => [120 + i, 1]), [140, 10]];
    for (const [start, length] of chunks) {
      using chunk = narrow(x, 1, start, length);
      using chunkCuda = bf16OnCuda(chunk);
      using y = fusedMixer.step!(chunkCuda, state);
      const values = y.toFloat32Array();
      for (let b = 0; b < BATCH; b++) {
        decoded.set(values.subarray(b * length * dim, (b + 1) * length * dim), (b * LENGTH + start) * dim);
      }
    }
    assert(state.length === LENGTH, `state consumed ${state.length} tokens`);
    assertRelativeError(decoded, expected.toFloat32Array(), BF16, "decode vs cpu forward");
  });
}
