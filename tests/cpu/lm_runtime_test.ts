// The ops behind fast generation on the CPU: the in-place slice write of a KV cache, token
// sampling without a full sort and rotary position embedding, each against its naive formula.
import { ConfigError, DTypeError, ShapeError } from "../../core/errors.ts";
import { add, cast, concat, cos, mul, narrow, rope, sampleTokens, sin, sub, writeSlice } from "../../core/ops.ts";
import { randn, Rng } from "../../core/random.ts";
import { arange, type Tensor, tensor } from "../../core/tensor.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
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

/** RoPE written out: pair (i, i + d/2) of token n turns by (offset + n) · θ^(−2i/d). */
function naiveRope(x: Float32Array, shape: number[], offset: number, theta: number): Float64Array {
  const dim = shape[shape.length - 1];
  const tokens = shape[shape.length - 2];
  const out = new Float64Array(x.length);
  for (let row = 0; row < x.length / dim; row++) {
    for (let i = 0; i < dim / 2; i++) {
      const angle = (offset + (row % tokens)) / Math.pow(theta, (2 * i) / dim);
      const a = x[row * dim + i], b = x[row * dim + i + dim / 2];
      out[row * dim + i] = a * Math.cos(angle) - b * Math.sin(angle);
      out[row * dim + i + dim / 2] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }
  return out;
}

/** RoPE from core ops as a model would compose it: f32 cos/sin tables, halves, mul, sub/add, concat. */
function composedRope(x: Tensor, offset: number, theta: number): Tensor {
  const [tokens, dim] = x.shape.slice(-2);
  using positions = arange(offset, offset + tokens).reshape([tokens, 1]);
  using inverse = tensor(Float32Array.from({ length: dim / 2 }, (_, i) => Math.pow(theta, (-2 * i) / dim)), {
    shape: [1, dim / 2],
  });
  using angles = mul(positions, inverse);
  using c = cos(angles), s = sin(angles);
  using a = narrow(x, -1, 0, dim / 2), b = narrow(x, -1, dim / 2, dim / 2);
  using ac = mul(a, c), bs = mul(b, s), bc = mul(b, c), as = mul(a, s);
  using first = sub(ac, bs), second = add(bc, as);
  return concat([first, second], -1);
}

test("rope = its formula and the composed cos/sin path; chunks at an offset equal the whole sequence's rows", () => {
  const shape = [2, 3, 6, 8];
  using x = randn(shape, { seed: 4 });
  const values = x.toFloat32Array();
  for (const [offset, theta] of [[0, 10000], [7, 500000], [123, 10]]) {
    using y = rope(x, offset, theta);
    assertClose(y.toFloat32Array(), naiveRope(values, shape, offset, theta), { rtol: 1e-6, atol: 1e-6 });
    using composed = composedRope(x, offset, theta);
    assertClose(y.toFloat32Array(), composed.toFloat32Array(), { rtol: 2e-5, atol: 2e-5 }, `offset ${offset}`);
  }
  using whole = rope(x, 5, 10000);
  using tail = narrow(x, 2, 4, 2);
  using tailRotated = rope(tail, 9, 10000);
  using wholeTail = narrow(whole, 2, 4, 2);
  assertEquals([...tailRotated.toTypedArray()], [...wholeTail.toTypedArray()]);
  using half = cast(x, "bf16");
  using rotatedHalf = rope(half, 7, 10000);
  assertEquals(rotatedHalf.dtype, "bf16");
  assertClose(rotatedHalf.toFloat32Array(), naiveRope(half.toFloat32Array(), shape, 7, 10000), {
    rtol: 8e-3,
    atol: 2e-3,
  });
  using odd = randn([2, 5]);
  assertThrows(() => rope(odd, 0), ShapeError, "rope", "[2, 5]");
  assertThrows(() => rope(x, -1), ConfigError, "rope", "offset");
  assertThrows(() => rope(x, 0, 1), ConfigError, "rope", "theta");
});

test("rope scores depend only on the distance between positions", () => {
  using q = randn([1, 1, 1, 16], { seed: 1 });
  using k = randn([1, 1, 1, 16], { seed: 2 });
  const score = (m: number, n: number): number => {
    using qm = rope(q, m), kn = rope(k, n);
    const a = qm.toFloat32Array(), b = kn.toFloat32Array();
    return a.reduce((s, v, i) => s + v * b[i], 0);
  };
  assertClose([score(3, 1), score(40, 38), score(1000, 998)], [score(2, 0), score(2, 0), score(2, 0)], {
    rtol: 1e-4,
    atol: 1e-4,
  });
  assert(Math.abs(score(3, 1) - score(3, 0)) > 1e-3, "a different distance gives a different score");
});
