// The ops behind fast generation on the CPU: the in-place slice write of a KV cache and token
// sampling without a full sort, each against its naive formula.
import { DTypeError, ShapeError } from "../../core/errors.ts";
import { concat, narrow, sampleTokens, writeSlice } from "../../core/ops.ts";
import { Rng } from "../../core/random.ts";
import { arange, tensor } from "../../core/tensor.ts";
import { assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { referenceToken } from "./_sampling_reference.ts";

test("writeSlice writes src over entries [start, start + n) of a dim and nothing else", () => {
  for (const dtype of ["f32", "bf16", "i32"] as const) {
    for (const dim of [0, 1, 2, -1]) {
      using flat = arange(0, 4 * 5 * 6, 1, dtype);
      using dst = flat.reshape([4, 5, 6]);
      const d = (dim + 3) % 3;
      const srcShape = dst.shape.map((s, i) => (i === d ? 2 : s));
      using srcFlat = arange(1000, 1000 + srcShape.reduce((a, b) => a * b), 1, dtype);
      using src = srcFlat.reshape(srcShape);
      // naive: the untouched head, src, the untouched tail
      using head = narrow(dst, d, 0, 1);
      using tail = narrow(dst, d, 3, dst.shape[d] - 3);
      using expected = concat([head, src, tail], d);
      writeSlice(dst, src, dim, 1);
      assertEquals([...dst.toTypedArray()], [...expected.toTypedArray()], `${dtype} dim ${dim}`);
    }
  }
  using dst = tensor(new Float32Array(12), { shape: [3, 4] });
  using src = tensor(new Float32Array(6), { shape: [3, 2] });
  assertThrows(() => writeSlice(dst, src, 1, 3), ShapeError, "writeSlice", "[3, 2]", "[3, 4]");
  using wrongRows = tensor(new Float32Array(4), { shape: [2, 2] });
  assertThrows(() => writeSlice(dst, wrongRows, 1, 0), ShapeError, "writeSlice");
  using ints = tensor(new Int32Array(6), { shape: [3, 2] });
  assertThrows(() => writeSlice(dst, ints, 1, 0), DTypeError, "writeSlice");
});

/** Logits with repeated values (ties), spread over a range that makes every option matter. */
function randomLogits(rng: Rng, batch: number, vocab: number): Float32Array {
  return Float32Array.from({ length: batch * vocab }, () => Math.round(rng.normal() * 24) / 8);
}

const OPTIONS = [
  {},
  { temperature: 1 },
  { temperature: 0.7, topK: 5 },
  { temperature: 1.3, topP: 0.6 },
  { temperature: 0.9, topK: 40, topP: 0.9 },
  { temperature: 2, topK: 1 },
  { temperature: 0.5, topP: 1e-9 },
];

test("sampleTokens = the full-sort rule for greedy, temperature, top-k, top-p, ties and every draw", () => {
  const rng = new Rng(3);
  const batch = 16;
  for (const vocab of [1, 7, 300]) {
    const values = randomLogits(rng, batch, vocab);
    using logits = tensor(values, { shape: [batch, vocab] });
    for (const options of OPTIONS) {
      for (let round = 0; round < 4; round++) {
        const uniforms = Float64Array.from({ length: batch }, () => rng.uniform());
        using ids = sampleTokens(logits, options, uniforms);
        assertEquals(ids.dtype, "i32");
        const expected = uniforms.map((u, b) =>
          referenceToken(values.subarray(b * vocab, (b + 1) * vocab), options, u)
        );
        assertEquals([...ids.toTypedArray()], [...expected], `vocab ${vocab} ${JSON.stringify(options)}`);
      }
    }
  }
});

test("sampleTokens: draws at the edges of [0, 1) pick the first and the last token of the nucleus", () => {
  using logits = tensor([[0.5, 3, 2, 3, -1, 2.5]]);
  assertEquals([...sampleTokens(logits, { temperature: 1 }, Float64Array.of(0)).toTypedArray()], [1]);
  // ranking 1, 3 (tie: lower index first), 5, 2, 0, 4; top-k 3 keeps 1, 3, 5
  const last = 1 - 2 ** -32;
  assertEquals([...sampleTokens(logits, { temperature: 1, topK: 3 }, Float64Array.of(last)).toTypedArray()], [5]);
  assertEquals([...sampleTokens(logits, { temperature: 1, topK: 2 }, Float64Array.of(last)).toTypedArray()], [3]);
  assertEquals([...sampleTokens(logits, { temperature: 1 }, Float64Array.of(last)).toTypedArray()], [4]);
  // bf16 logits are decoded once; the rule is the same
  using half = tensor([[0.5, 3, 2, 3, -1, 2.5]], { dtype: "bf16" });
  assertEquals([...sampleTokens(half, { temperature: 1, topK: 2 }, Float64Array.of(last)).toTypedArray()], [3]);
});

test("sampleTokens rejects bad options, draws and shapes naming them", () => {
  using logits = tensor([[1, 2, 3]]);
  assertThrows(() => sampleTokens(logits, { temperature: 1, topK: 1.5 }, Float64Array.of(0.5)), Error, "topK");
  assertThrows(() => sampleTokens(logits, { temperature: 1, topP: 0 }, Float64Array.of(0.5)), Error, "topP");
  assertThrows(() => sampleTokens(logits, { temperature: NaN }, Float64Array.of(0.5)), Error, "temperature");
  assertThrows(() => sampleTokens(logits, { temperature: 1 }, Float64Array.of(1)), Error, "uniforms");
  assertThrows(() => sampleTokens(logits, {}, Float64Array.of(0.5, 0.5)), ShapeError, "sampleTokens", "[1, 3]");
  using ids = tensor(new Int32Array([1, 2]), { shape: [1, 2] });
  assertThrows(() => sampleTokens(ids, {}, Float64Array.of(0.5)), DTypeError, "sampleTokens");
});
