// The FlashSigmoid and FlashSoftmax mixers with ALiBi keep one device copy of the slopes for their
// lifetime (no upload per attention call) and free it when disposed: counted in live blocks of the
// CUDA caching allocator, against a mixer without ALiBi, which holds its parameters only.
import "../../mod.ts";
import { randn } from "../../core/random.ts";
import { createMixer } from "../../core/registry.ts";
import type { TokenMixer } from "../../core/plugin.ts";
import { assertEquals } from "../_assert.ts";
import { test } from "../_harness.ts";
import { bf16OnCuda, gpu, mixerSpec } from "./_setup.ts";

/** A full forward and one decode step, every output and the state freed again. */
function exercise(mixer: TokenMixer): void {
  using x = randn([2, 5, 256], { seed: 3 });
  using xCuda = bf16OnCuda(x);
  using state = mixer.createState!(2);
  using _y = mixer.forward(xCuda);
  using _z = mixer.step!(xCuda, state);
}

for (const family of ["sigmoid", "softmax"]) {
  for (const alibi of [true, false]) {
    test(`${family} mixer on CUDA, ALiBi ${alibi}: holds ${alibi ? "its parameters and the slopes" : "its parameters"}, dispose frees all`, () => {
      const cuda = gpu(`${family} mixer device slopes`);
      if (cuda === undefined) return;
      const spec = mixerSpec("cuda", { heads: 4 });
      // first calls may set up lasting backend state (workspaces): done before counting
      using warmUp = createMixer(family, spec, { alibi });
      exercise(warmUp);
      const live = () => cuda.memoryStats().liveBlocks;
      const before = live();
      const mixer = createMixer(family, spec, { alibi });
      const held = mixer.parameters.size + (alibi ? 1 : 0);
      assertEquals(live() - before, held, "after creation");
      exercise(mixer);
      assertEquals(live() - before, held, "after a forward and a decode step");
      mixer[Symbol.dispose]();
      assertEquals(live(), before, "after dispose");
    });
  }
}
