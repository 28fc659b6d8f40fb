// The dot-product mixer owns its options' dispose hook (what a family's functions hold for the
// mixer's lifetime, e.g. device ALiBi slopes): it runs once the mixer is disposed, after the
// parameters are freed, and at once when creating the mixer throws; never before.
import { ConfigError } from "../../core/errors.ts";
import { createDotProductMixer, type DotProductMixerOptions, eagerAttention } from "../../core/nn/mod.ts";
import { softmax } from "../../core/ops.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { randn } from "../../core/random.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";

const spec = (heads: number): MixerSpec => ({
  dim: 12,
  heads,
  causal: true,
  layer: 0,
  layers: 1,
  dtype: "f32",
  device: "cpu",
  seed: 7,
});

function counting(): { options: DotProductMixerOptions; disposed: () => number } {
  let count = 0;
  const options: DotProductMixerOptions = {
    name: "test mixer",
    attention: (q, k, v, call) => eagerAttention(q, k, v, { ...call, weights: (s) => softmax(s, -1) }),
    dispose: () => count++,
  };
  return { options, disposed: () => count };
}

test("dot-product mixer: dispose runs the options' dispose hook once, after freeing the parameters", () => {
  const { options, disposed } = counting();
  const mixer = createDotProductMixer(spec(4), options);
  using x = randn([1, 3, 12], { seed: 1 });
  using state = mixer.createState!(1);
  using y = mixer.forward(x);
  using z = mixer.step!(x, state);
  assertEquals(disposed(), 0, "forward and step leave the hook alone");
  mixer[Symbol.dispose]();
  assertEquals(disposed(), 1, "disposing the mixer runs it");
  for (const t of mixer.parameters.values()) assert(t.disposed, "parameters freed");
  assertEquals([y.shape, z.shape], [[1, 3, 12], [1, 3, 12]]);
});

test("dot-product mixer: a creation error runs the options' dispose hook before it propagates", () => {
  const { options, disposed } = counting();
  assertThrows(() => createDotProductMixer(spec(5), options), ConfigError, "heads");
  assertEquals(disposed(), 1);
});
