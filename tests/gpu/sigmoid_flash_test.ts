// The sigmoid plugin's own CUDA kernels (FlashSigmoid) through the plugin contract: the backend
// opens them from the manifest, the mixer uses them on CUDA in bf16, and its outputs match the CPU
// mixer (f32, same seed hence the same weights) and the CUDA mixer composed of core ops;
// token-by-token decoding (the decode kernel) matches the prefill; the attention function reads only
// keyLength keys of a KV cache with spare capacity; the backward's two modes match the CPU
// reference backward.
//
// Tolerance: relative L2 error 3e-2 in bf16, as tests/gpu/models_test.ts argues (one bf16 ulp is
// ≈ 8e-3; the kernel also rounds P to bf16 before P·V, as FlashAttention does); layout or masking
// bugs give errors of order 1.
import "../../mod.ts";
import { alibiSlopes, slopesOnDevice } from "../../core/alibi.ts";
import { type AttentionFunction, eagerAttention } from "../../core/nn/mod.ts";
import { cast, narrow, permute, sigmoid, toDevice } from "../../core/ops.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { randn } from "../../core/random.ts";
import { createMixer, getPlugin } from "../../core/registry.ts";
import { sigmoidAttentionBackward } from "../../plugins/sigmoid/mod.ts";
import type { Tensor } from "../../core/tensor.ts";
import { flashSigmoidAttention } from "../../plugins/sigmoid/_flash.ts";
import { assert, assertRelativeError } from "../_assert.ts";
import { test } from "../_harness.ts";
import { bf16OnCuda, gpu, mixerSpec } from "./_setup.ts";

const BF16 = 3e-2;

const spec = (device: "cpu" | "cuda", overrides: Partial<MixerSpec>): MixerSpec =>
  mixerSpec(device, { qkvBias: false, ...overrides });

const cases: [string, Partial<MixerSpec>, Record<string, unknown>][] = [
  ["causal LM, d 64, ALiBi, b = −ln 4096", { heads: 4 }, { maxLength: 4096, alibi: true }],
  ["causal LM, d 64, GQA 4/2, QK-RMSNorm", { heads: 4, kvHeads: 2 }, { qkNorm: "rms" }],
  ["vision, d 128, b = 0", { heads: 2, causal: false, qkvBias: true }, { bias: 0 }],
  ["causal LM, d 32 (padded tiles), GQA 8/2, ALiBi", { heads: 8, kvHeads: 2 }, { alibi: true }],
  ["causal LM, d 256, one head", { heads: 1 }, {}],
];

test("FlashSigmoid: the backend opens the sigmoid plugin's kernels from its manifest", () => {
  const cuda = gpu("FlashSigmoid kernels load");
  if (cuda === undefined) return;
  const kernels = cuda.pluginKernels(getPlugin("sigmoid"));
  assert(kernels !== undefined && typeof kernels.symbols.attnzoo_sigmoid_forward === "function", "kernels bound");
  assert(cuda.pluginKernels(getPlugin("agent")) === undefined, "a plugin without kernels gets none");
});

for (const [label, geometry, config] of cases) {
  test(`FlashSigmoid mixer on CUDA (bf16) = CPU mixer (f32): ${label}, N = 77`, () => {
    if (gpu(`FlashSigmoid mixer ${label}`) === undefined) return;
    using x = randn([2, 77, 256], { seed: 4 });
    using cpuMixer = createMixer("sigmoid", spec("cpu", geometry), config);
    using flashMixer = createMixer("sigmoid", spec("cuda", geometry), config);
    using eagerMixer = getPlugin("sigmoid").ops.cuda!.createMixer(spec("cuda", geometry), config);
    using expected = cpuMixer.forward(x);
    using xCuda = bf16OnCuda(x);
    using flash = flashMixer.forward(xCuda);
    using eager = eagerMixer.forward(xCuda);
    assertRelativeError(flash.toFloat32Array(), expected.toFloat32Array(), BF16, "flash vs cpu");
    assertRelativeError(flash.toFloat32Array(), eager.toFloat32Array(), BF16, "flash vs eager on cuda");
    if (geometry.causal === false) return;
    // decode through the KV cache on the kernels: prefill 60 tokens, then one token per call
    using state = flashMixer.createState!(2);
    const decoded = new Float32Array(2 * 77 * 256);
    for (const [start, length] of [[0, 60], ...Array.from({ length: 17 }, (_, i) => [60 + i, 1])]) {
      using chunk = narrow(x, 1, start, length);
      using chunkCuda = bf16OnCuda(chunk);
      using y = flashMixer.step!(chunkCuda, state);
      const values = y.toFloat32Array();
      for (let b = 0; b < 2; b++) {
        decoded.set(values.subarray(b * length * 256, (b + 1) * length * 256), (b * 77 + start) * 256);
      }
    }
    assertRelativeError(decoded, expected.toFloat32Array(), BF16, "decode vs cpu forward");
    assertRelativeError(decoded, flash.toFloat32Array(), BF16, "decode vs the prefill on cuda");
  });
}

test("FlashSigmoid attention on CUDA reads only keyLength keys of a KV cache with spare capacity", () => {
  const cuda = gpu("FlashSigmoid attention over a cache with spare capacity");
  if (cuda === undefined) return;
  const kernels = cuda.pluginKernels(getPlugin("sigmoid"));
  assert(kernels !== undefined, "sigmoid kernels bound");
  const bias = -Math.log(4096);
  const slopes = alibiSlopes(8);
  const refuse: AttentionFunction = () => {
    throw new Error("these inputs belong to the kernels, not the fallback");
  };
  using deviceSlopes = slopesOnDevice(slopes, "cuda");
  const flash = flashSigmoidAttention(kernels, bias, deviceSlopes, refuse);
  const [capacity, keyLength] = [300, 261];
  // GQA 8/2: 4·nq query rows per KV head; up to 16 take the decode kernel, 160 the tiled forward;
  // d 32 and 96 run in zero-padded 64- and 128-wide tiles
  const shapes = [[1, 64], [3, 128], [40, 64], [2, 32], [40, 32], [1, 96], [40, 96], [3, 256], [40, 256]];
  for (const [nq, d] of shapes) {
    const rounded = (shape: number[], seed: number): [Tensor, Tensor] => {
      using x = randn(shape, { seed });
      const low = cast(x, "bf16");
      return [low, cast(low, "f32")];
    };
    const [qLow, q] = rounded([2, 8, nq, d], 1);
    const [kLow, k] = rounded([2, 2, capacity, d], 2);
    const [vLow, v] = rounded([2, 2, capacity, d], 3);
    using _inputs = { [Symbol.dispose]: () => [qLow, q, kLow, k, vLow, v].forEach((t) => t.dispose()) };
    const call = { causal: true, queryOffset: keyLength - nq, keyLength };
    using expected = eagerAttention(q, k, v, { ...call, scoreBias: bias, alibiSlopes: slopes, weights: sigmoid });
    using qCuda = toDevice(qLow, "cuda");
    using kCuda = toDevice(kLow, "cuda");
    using vCuda = toDevice(vLow, "cuda");
    using out = flash(qCuda, kCuda, vCuda, call);
    assertRelativeError(out.toFloat32Array(), expected.toFloat32Array(), BF16, `nq ${nq}, d ${d}`);
  }
});

test("FlashSigmoid backward kernels (single pass: automatic and mma.sync; deterministic) = CPU reference backward: causal, GQA 4/2, N 77, d 32, 64, 128 and 256", () => {
  const cuda = gpu("FlashSigmoid backward");
  if (cuda === undefined) return;
  const kernels = cuda.pluginKernels(getPlugin("sigmoid"))!;
  // the automatic single pass is the wgmma kernel on Hopper, the mma.sync one elsewhere
  const modes = [
    ["attnzoo_sigmoid_backward", 0],
    ["attnzoo_sigmoid_backward_mma", 0],
    ["attnzoo_sigmoid_backward", 1],
  ] as const;
  // d 32 runs in padded tiles, d 256 on the two-pass kernels in every mode
  for (const d of [32, 64, 128, 256]) {
    const [batch, heads, kvHeads, n] = [2, 4, 2, 77];
    // inputs rounded to bf16 once, so the reference sees exactly what the kernels read
    const bf16Inputs = [[heads, 1], [kvHeads, 2], [kvHeads, 3], [heads, 4]].map(([h, seed]) => {
      using x = randn([batch, h, n, d], { seed });
      using rounded = cast(x, "bf16");
      return cast(rounded, "f32");
    });
    using q = bf16Inputs[0], k = bf16Inputs[1], v = bf16Inputs[2], dOut = bf16Inputs[3];
    const bias = -2;
    const expected = sigmoidAttentionBackward(q, k, v, dOut, { bias, causal: true });
    using dqRef = expected.dq, dkRef = expected.dk, dvRef = expected.dv;
    // the kernels' layout is [B, N, H, d]
    const onDevice = (x: Tensor) => {
      using c = bf16OnCuda(x);
      return permute(c, [0, 2, 1, 3]);
    };
    using qd = onDevice(q), kd = onDevice(k), vd = onDevice(v), dOutD = onDevice(dOut);
    using workspace = kernels.empty([batch * n * heads * d], "f32");
    for (const [symbol, deterministic] of modes) {
      using dq = kernels.empty([batch, n, heads, d], "bf16");
      using dk = kernels.empty([batch, n, kvHeads, d], "bf16");
      using dv = kernels.empty([batch, n, kvHeads, d], "bf16");
      const status = kernels.symbols[symbol](
        2, // bf16
        ...[qd, kd, vd, dOutD, dq, dk, dv, workspace].map((t) => kernels.pointer(t)),
        batch,
        heads,
        kvHeads,
        n,
        n,
        d,
        1 / Math.sqrt(d),
        bias,
        1,
        0n,
        0,
        deterministic,
        kernels.stream,
      ) as number;
      const label = `${symbol}, deterministic ${deterministic}, d ${d}`;
      kernels.check(status, "sigmoid_backward", label);
      for (const [name, got, want] of [["dq", dq, dqRef], ["dk", dk, dkRef], ["dv", dv, dvRef]] as const) {
        using back = permute(got, [0, 2, 1, 3]);
        assertRelativeError(back.toFloat32Array(), want.toFloat32Array(), BF16, `${name}, ${label}`);
      }
    }
  }
});
