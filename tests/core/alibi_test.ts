// ALiBi slopes: Press et al.'s values, and the f32 tensor the fused kernels read.
import { alibiSlopes, slopesOnDevice } from "../../core/alibi.ts";
import { assertClose, assertEquals } from "../_assert.ts";
import { test } from "../_harness.ts";

test("alibiSlopes: 2^(−8(h+1)/H) for 8 heads; 6 heads take 4's slopes then every other one of 8's", () => {
  assertClose(alibiSlopes(8), Array.from({ length: 8 }, (_, h) => 2 ** (-(h + 1))), { rtol: 1e-15, atol: 0 });
  const four = [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8];
  assertClose(alibiSlopes(6), [...four, 2 ** -1, 2 ** -3], { rtol: 1e-15, atol: 0 });
});

test("slopesOnDevice: the slopes as an f32 tensor of one row on the device asked for", () => {
  using t = slopesOnDevice([0.5, 0.25, 0.1], "cpu");
  assertEquals(t.dtype, "f32");
  assertEquals(t.shape, [3]);
  assertEquals(t.device, "cpu");
  assertClose(t.toFloat32Array(), [0.5, 0.25, Math.fround(0.1)], { rtol: 0, atol: 0 });
});
