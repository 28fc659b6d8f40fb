// The softmax token mixer: parity with timm's ViT Attention, agreement with the functional
// reference (GQA layout, ALiBi), KV-cache decode ≡ full forward, parameters, errors, manifest.
import { alibiSlopes } from "../../../core/alibi.ts";
import { ConfigError, ShapeError } from "../../../core/errors.ts";
import { type MixerSpec, PluginManifestSchema } from "../../../core/plugin.ts";
import { randn } from "../../../core/random.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { createSoftmaxMixer, plugin, softmaxAttention } from "../../../plugins/softmax/mod.ts";
import { assert, assertClose, assertEquals, assertThrows, relativeError } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { pick, readFixture } from "../sigmoid/_fixture.ts";

function spec(overrides: Partial<MixerSpec> = {}): MixerSpec {
  return { dim: 12, heads: 4, causal: true, layer: 0, layers: 1, dtype: "f32", device: "cpu", seed: 5, ...overrides };
}

function randomize(params: Map<string, Tensor>, seed: number): void {
  let s = seed;
  for (const [name, t] of params) params.set(name, randn(t.shape, { seed: s++, std: 0.3 }));
}

test("softmax mixer parity with timm's ViT Attention (qkv_bias=True)", () => {
  const fixture = readFixture("softmax_timm_vit");
  const x = pick(fixture, "x");
  const mixer = createSoftmaxMixer(spec({ dim: 16, causal: false, qkvBias: true }), {});
  const official = [...fixture.keys()].filter((k) => k.startsWith("w.")).map((k) => k.slice(2)).sort();
  assertEquals([...mixer.parameters.keys()].sort(), official);
  for (const name of official) mixer.parameters.set(name, pick(fixture, `w.${name}`));
  const err = relativeError(mixer.forward(x).toFloat32Array(), pick(fixture, "y").toFloat32Array());
  assert(err <= 1e-5, `relative error ${err.toExponential(3)} > 1e-5`);
});

test("softmax mixer = functional reference on q/k/v split by hand (GQA, ALiBi, causal)", () => {
  const [B, N, C, H, Hkv, d] = [1, 5, 12, 4, 2, 3];
  const mixer = createSoftmaxMixer(spec({ kvHeads: Hkv }), { alibi: true });
  randomize(mixer.parameters, 30);
  const x = randn([B, N, C], { seed: 6 });
  const w = mixer.parameters.get("qkv.weight")!.toFloat32Array();
  const xv = x.toFloat32Array();
  const row = (n: number, o: number) => xv.subarray(n * C, (n + 1) * C).reduce((s, xc, c) => s + xc * w[o * C + c], 0);
  const heads = (offset: number, count: number) =>
    tensor(
      Float32Array.from({ length: count * N * d }, (_, i) => {
        const [h, n, c] = [Math.floor(i / (N * d)), Math.floor(i / d) % N, i % d];
        return row(n, offset + h * d + c);
      }),
      { shape: [B, count, N, d] },
    );
  const o = softmaxAttention(heads(0, H), heads(H * d, Hkv), heads((H + Hkv) * d, Hkv), {
    causal: true,
    alibiSlopes: alibiSlopes(H),
  }).toFloat32Array();
  const pw = mixer.parameters.get("proj.weight")!.toFloat32Array();
  const expected = Float32Array.from({ length: N * C }, (_, i) => {
    const [n, out] = [Math.floor(i / C), i % C];
    let s = 0;
    for (let h = 0; h < H; h++) for (let c = 0; c < d; c++) s += o[(h * N + n) * d + c] * pw[out * C + h * d + c];
    return s;
  });
  assertClose(mixer.forward(x).toFloat32Array(), expected, { rtol: 1e-4, atol: 1e-5 });
});

test("softmax mixer: KV-cache decode token by token equals the full forward (GQA, ALiBi)", () => {
  const mixer = createSoftmaxMixer(spec({ kvHeads: 2, qkvBias: true }), { alibi: true });
  randomize(mixer.parameters, 40);
  const x = randn([1, 6, 12], { seed: 9 });
  const full = mixer.forward(x).toFloat32Array();
  using state = mixer.createState!(1);
  const xv = x.toFloat32Array();
  for (let t = 0; t < 6; t++) {
    const y = mixer.step!(tensor(xv.slice(t * 12, (t + 1) * 12), { shape: [1, 1, 12] }), state);
    assertClose(y.toFloat32Array(), full.subarray(t * 12, (t + 1) * 12), { rtol: 1e-5, atol: 1e-6 }, `token ${t}`);
  }
  assertEquals(state.length, 6);
});

test("softmax mixer: parameters, errors, manifest and cost", () => {
  const mixer = createSoftmaxMixer(spec({ kvHeads: 1, qkvBias: false }), {});
  assertEquals(Object.fromEntries([...mixer.parameters].map(([n, t]) => [n, t.shape])), {
    "qkv.weight": [18, 12],
    "proj.weight": [12, 12],
  });
  assertThrows(() => createSoftmaxMixer(spec(), { alibi: 1 }), ConfigError, "alibi");
  assertThrows(() => createSoftmaxMixer(spec(), { qkNorm: "rms" }), ConfigError, "qkNorm");
  assertThrows(() => createSoftmaxMixer(spec({ heads: 5 }), {}), ConfigError, "heads");
  assertThrows(() => mixer.forward(randn([1, 0, 12])), ShapeError, "[1, 0, 12]");
  PluginManifestSchema.parse(plugin);
  const cost = plugin.cost!(spec({ kvHeads: 1 }), {}, 4);
  assertEquals(cost.params, 18 * 12 + 12 * 12);
  assertEquals(cost.flops, 2 * 4 * (18 + 12) * 12 + 4 * 4 * 10 * 3);
});
