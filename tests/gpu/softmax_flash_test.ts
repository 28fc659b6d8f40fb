// The softmax plugin's own CUDA kernel (FlashSoftmax forward) through the plugin contract: the
// backend opens it from the manifest, the mixer runs it on CUDA in bf16 (full forwards on the
// packed projection, decoding on head-major q and the KV cache), and its outputs match the CPU
// mixer (f32, same seed hence the same weights) and the CUDA mixer composed of core ops. A counting
// wrapper around the kernel proves which path ran; f32 has no kernel and must fall back.
//
// Tolerance: relative L2 error 3e-2 in bf16, as tests/gpu/models_test.ts argues (one bf16 ulp is
// ≈ 8e-3; the kernel also rounds P to bf16 before P·V, as FlashAttention does); layout or masking
// bugs give errors of order 1.
import "../../mod.ts";
import { narrow, toDevice } from "../../core/ops.ts";
import type { MixerSpec, PluginKernels } from "../../core/plugin.ts";
import { randn } from "../../core/random.ts";
import { createMixer, getPlugin } from "../../core/registry.ts";
import { assert, assertEquals, assertRelativeError } from "../_assert.ts";
import { test } from "../_harness.ts";
import { bf16OnCuda, gpu, mixerSpec } from "./_setup.ts";

const BF16 = 3e-2;

const spec = (device: "cpu" | "cuda", overrides: Partial<MixerSpec>): MixerSpec =>
  mixerSpec(device, { qkvBias: false, ...overrides });

/** The plugin's kernels with attnzoo_softmax_forward counting its calls. */
function countingKernels(kernels: PluginKernels): { kernels: PluginKernels; calls: () => number } {
  let calls = 0;
  const forward = kernels.symbols.attnzoo_softmax_forward;
  const symbols = {
    ...kernels.symbols,
    attnzoo_softmax_forward: (...args: Parameters<typeof forward>) => {
      calls++;
      return forward(...args);
    },
  };
  return { kernels: { ...kernels, symbols }, calls: () => calls };
}

const cases: [string, Partial<MixerSpec>, Record<string, unknown>, number][] = [
  ["causal LM, d 64, GQA 4/2, ALiBi", { heads: 4, kvHeads: 2 }, { alibi: true }, 77],
  ["causal LM, d 128, MQA", { heads: 2, kvHeads: 1 }, {}, 77],
  ["vision, d 64, 6 heads, N = 197 (DeiT-S)", { dim: 384, heads: 6, causal: false, qkvBias: true }, {}, 197],
  ["vision, d 128, ALiBi", { heads: 2, causal: false, qkvBias: true }, { alibi: true }, 77],
];

test("FlashSoftmax: the backend opens the softmax plugin's kernel from its manifest", () => {
  const cuda = gpu("FlashSoftmax kernel loads");
  if (cuda === undefined) return;
  const kernels = cuda.pluginKernels(getPlugin("softmax"));
  assert(kernels !== undefined && typeof kernels.symbols.attnzoo_softmax_forward === "function", "kernel bound");
});

for (const [label, geometry, config, n] of cases) {
  test(`FlashSoftmax mixer on CUDA (bf16) = CPU mixer (f32): ${label}, N = ${n}`, () => {
    const cuda = gpu(`FlashSoftmax mixer ${label}`);
    if (cuda === undefined) return;
    const dim = geometry.dim ?? 256;
    const counted = countingKernels(cuda.pluginKernels(getPlugin("softmax"))!);
    using x = randn([2, n, dim], { seed: 4 });
    using cpuMixer = createMixer("softmax", spec("cpu", geometry), config);
    using flashMixer = getPlugin("softmax").ops.cuda!.createMixer(spec("cuda", geometry), config, counted.kernels);
    using eagerMixer = getPlugin("softmax").ops.cuda!.createMixer(spec("cuda", geometry), config);
    using expected = cpuMixer.forward(x);
    using xCuda = bf16OnCuda(x);
    using flash = flashMixer.forward(xCuda);
    assertEquals(counted.calls(), 1, "one kernel call on the packed projection");
    using eager = eagerMixer.forward(xCuda);
    assertRelativeError(flash.toFloat32Array(), expected.toFloat32Array(), BF16, "flash vs cpu");
    assertRelativeError(flash.toFloat32Array(), eager.toFloat32Array(), BF16, "flash vs eager on cuda");
    if (geometry.causal === false) return;
    // decode through the KV cache on the kernel: prefill 60 tokens, then one token per call
    using state = flashMixer.createState!(2);
    const decoded = new Float32Array(2 * n * dim);
    const chunks = [[0, 60], ...Array.from({ length: n - 60 }, (_, i) => [60 + i, 1])];
    for (const [start, length] of chunks) {
      using chunk = narrow(x, 1, start, length);
      using chunkCuda = bf16OnCuda(chunk);
      using y = flashMixer.step!(chunkCuda, state);
      const values = y.toFloat32Array();
      for (let b = 0; b < 2; b++) {
        decoded.set(values.subarray(b * length * dim, (b + 1) * length * dim), (b * n + start) * dim);
      }
    }
    assertEquals(counted.calls(), 1 + chunks.length, "every decode step on the kernel");
    assertRelativeError(decoded, expected.toFloat32Array(), BF16, "decode vs cpu forward");
  });
}

test("FlashSoftmax mixer in f32 on CUDA declines the kernel and equals the CPU mixer", () => {
  const cuda = gpu("FlashSoftmax f32 fallback");
  if (cuda === undefined) return;
  const counted = countingKernels(cuda.pluginKernels(getPlugin("softmax"))!);
  const f32 = { ...spec("cuda", { kvHeads: 2 }), dtype: "f32" as const };
  using x = randn([2, 33, 256], { seed: 5 });
  using cpuMixer = createMixer("softmax", spec("cpu", { kvHeads: 2 }), {});
  using cudaMixer = getPlugin("softmax").ops.cuda!.createMixer(f32, {}, counted.kernels);
  using expected = cpuMixer.forward(x);
  using xCuda = toDevice(x, "cuda");
  using y = cudaMixer.forward(xCuda);
  assertEquals(counted.calls(), 0, "no kernel call in f32");
  assertRelativeError(y.toFloat32Array(), expected.toFloat32Array(), 1e-4, "f32 cuda vs cpu");
});
