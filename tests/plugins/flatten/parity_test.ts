// The reference layer against the official FocusedLinearAttention modules (FLatten-PVT with
// sr_ratio 1 and 2, a non-square grid, p = 2 with a 3×3 DWC; FLatten-Swin windows), run in
// float64 on random weights by tests/fixtures/gen_flatten.py.
import { test } from "../../_harness.ts";
import { assertRelativeError, relativeError } from "../../_assert.ts";
import { referenceFlattenMixer } from "../../../plugins/flatten/reference_mixer.ts";
import { loadFixture } from "./_fixture.ts";

const CASES = ["pvt_sr1", "pvt_sr2", "pvt_sr2_rect", "pvt_f2_k3", "swin_w8", "swin_w6"];

for (const name of CASES) {
  for (const order of ["kv", "qk"] as const) {
    test(`flatten reference matches official ${name} (${order} first)`, () => {
      const { tensors, meta } = loadFixture(name);
      const out = referenceFlattenMixer(tensors.get("x")!, tensors, {
        heads: Number(meta.heads),
        grid: [Number(meta.H), Number(meta.W)],
        srRatio: Number(meta.sr_ratio),
        focusingFactor: Number(meta.focusing_factor),
        order,
      });
      const expected = tensors.get("out")!.toFloat32Array();
      const actual = out.toFloat32Array();
      if (order === "kv") console.log(`${name}: relative error ${relativeError(actual, expected).toExponential(2)}`);
      assertRelativeError(actual, expected, 1e-6, name);
    });
  }
}
