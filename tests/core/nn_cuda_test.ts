// core/nn on CUDA (skipped with the reason printed where CUDA cannot load): a dot-product mixer
// created for device "cuda" holds its parameters there, with the values the CPU mixer of the same
// seed draws, and its forward and KV-cache decode (score terms uploaded too) match the CPU mixer.
import { backendFor } from "../../core/backend.ts";
import { DeviceUnavailableError } from "../../core/errors.ts";
import {
  createDotProductMixer,
  type DotProductMixerOptions,
  eagerAttention,
  type QkTransform,
} from "../../core/nn/mod.ts";
import { rmsNorm, softmax, toDevice } from "../../core/ops.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { randn } from "../../core/random.ts";
import { type Device, tensor } from "../../core/tensor.ts";
import { assertEquals, assertRelativeError } from "../_assert.ts";
import { test } from "../_harness.ts";

function cudaSkipReason(): string | undefined {
  try {
    backendFor("cuda");
    return undefined;
  } catch (error) {
    if (error instanceof DeviceUnavailableError) return error.message;
    throw error;
  }
}

const qkRmsNorm: QkTransform = {
  parameters: ({ headDim }) => [
    { name: "q_norm.weight", shape: [headDim], init: "ones" },
    { name: "k_norm.weight", shape: [headDim], init: "ones" },
  ],
  apply: (x, role, parameter) => rmsNorm(x, parameter(`${role}_norm.weight`)),
};

const options: DotProductMixerOptions = {
  name: "cuda test mixer",
  attention: (q, k, v, call) =>
    eagerAttention(q, k, v, { ...call, scoreOffset: (h, distance) => -0.1 * (h + 1) * distance, weights: softmax }),
  qkTransform: qkRmsNorm,
};

function spec(device: Device): MixerSpec {
  return {
    dim: 64,
    heads: 8,
    kvHeads: 2,
    causal: true,
    qkvBias: true,
    layer: 0,
    layers: 1,
    dtype: "f32",
    device,
    seed: 3,
  };
}

test("dot-product mixer on CUDA: parameters on the device, forward and decode match the CPU mixer", () => {
  const reason = cudaSkipReason();
  if (reason !== undefined) {
    console.log(`skip: ${reason}`);
    return;
  }
  using cpu = createDotProductMixer(spec("cpu"), options);
  using cuda = createDotProductMixer(spec("cuda"), options);
  assertEquals([...cuda.parameters.keys()], [...cpu.parameters.keys()]);
  for (const [name, t] of cuda.parameters) {
    assertEquals(t.device, "cuda", name);
    assertEquals([...t.toFloat32Array()], [...cpu.parameters.get(name)!.toFloat32Array()], name);
  }
  using x = randn([2, 9, 64], { seed: 4 });
  using xCuda = toDevice(x, "cuda");
  using expected = cpu.forward(x);
  using y = cuda.forward(xCuda);
  assertEquals(y.device, "cuda");
  const reference = expected.toFloat32Array();
  assertRelativeError(y.toFloat32Array(), reference, 1e-3, "cuda forward vs cpu forward");
  using state = cuda.createState!(2);
  const rows = x.toArray() as number[][][];
  for (let t = 0; t < 9; t++) {
    using token = toDevice(tensor(rows.map((r) => [r[t]])), "cuda");
    using out = cuda.step!(token, state);
    const want = Array.from({ length: 2 }, (_, b) => [...reference.slice((b * 9 + t) * 64, (b * 9 + t + 1) * 64)]);
    assertRelativeError(out.toFloat32Array(), want.flat(), 1e-3, `cuda decode token ${t}`);
  }
  assertEquals(state.length, 9);
});
