import { DisposedTensorError, DTypeError, ShapeError } from "../../core/errors.ts";
import { randn, Rng } from "../../core/random.ts";
import { arange, full, ones, tensor, zeros } from "../../core/tensor.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";

test("tensor: nested arrays infer the shape; toArray gives them back", () => {
  using t = tensor([[1, 2, 3], [4, 5, 6]]);
  assertEquals(t.shape, [2, 3]);
  assertEquals(t.dtype, "f32");
  assertEquals(t.device, "cpu");
  assertEquals(t.size, 6);
  assertEquals(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
  using s = tensor(7, { shape: [] });
  assertEquals(s.toArray(), 7);
});

test("tensor: typed arrays with a shape, i32 inferred from Int32Array", () => {
  using t = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
  assertEquals(t.toArray(), [[1, 2], [3, 4], [5, 6]]);
  using ids = tensor(new Int32Array([3, -1, 7]));
  assertEquals(ids.dtype, "i32");
  assert(ids.toTypedArray() instanceof Int32Array, "i32 gives an Int32Array");
  assertEquals([...ids.toTypedArray()], [3, -1, 7]);
});

test("tensor: f16/bf16 round on creation and decode on read", () => {
  using h = tensor([0.1, 65520, 1 + 2 ** -11], { dtype: "f16" });
  assertClose(h.toTypedArray(), [0.0999755859375, Infinity, 1], { rtol: 0, atol: 0 });
  assertEquals([...h.hostData], [0x2e66, 0x7c00, 0x3c00]);
  using b = tensor([1 + 3 * 2 ** -8, -0.5], { dtype: "bf16" });
  assertEquals([...b.hostData], [0x3f82, 0xbf00]);
});

test("tensor: bad shapes and data are rejected", () => {
  assertThrows(() => tensor([[1, 2], [3]]), ShapeError, "ragged");
  assertThrows(() => tensor([1, 2, 3], { shape: [2, 2] }), ShapeError, "[2, 2]", "3");
  assertThrows(() => zeros([2, -1]), ShapeError, "[2, -1]");
  assertThrows(() => zeros([1.5]), ShapeError);
  assertThrows(() => tensor([1.5], { dtype: "i32" }), DTypeError, "non-integer");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => tensor([1], { dtype: "f64" as any }), DTypeError, "f64");
});

test("tensor: dispose and using free the storage; use after dispose throws", () => {
  const t = ones([2, 2]);
  t.dispose();
  assert(t.disposed, "disposed flag");
  assertThrows(() => t.toArray(), DisposedTensorError);
  assertThrows(() => t.device, DisposedTensorError);
  assertThrows(() => t.reshape([4]), DisposedTensorError);
  t.dispose(); // idempotent
  let escaped: ReturnType<typeof ones> | undefined;
  {
    using u = ones([3]);
    escaped = u;
  }
  assert(escaped.disposed, "using disposes at the end of the block");
});

test("tensor: reshape shares storage; storage lives until the last view is disposed", () => {
  const t = arange(0, 6);
  const v = t.reshape([2, -1]);
  assertEquals(v.shape, [2, 3]);
  t.hostData[0] = 42; // same storage
  assertEquals(v.toArray(), [[42, 1, 2], [3, 4, 5]]);
  t.dispose();
  assertEquals(v.toArray(), [[42, 1, 2], [3, 4, 5]]);
  v.dispose();
  assertThrows(() => v.toArray(), DisposedTensorError);
  using w = zeros([4]);
  assertThrows(() => w.reshape([3]), ShapeError, "[4]", "[3]");
  assertThrows(() => w.reshape([-1, -1]), ShapeError, "-1");
});

test("tensor: full, arange, zero-size tensors", () => {
  using f = full([2], 2.5, "bf16");
  assertEquals([...f.toTypedArray()], [2.5, 2.5]);
  using a = arange(1, 2, 0.25);
  assertEquals([...a.toTypedArray()], [1, 1.25, 1.5, 1.75]);
  using e = zeros([0, 3]);
  assertEquals(e.toArray(), []);
  assertEquals(e.size, 0);
});

test("randn: reproducible from the seed, standard moments", () => {
  using a = randn([10000], { seed: 7 });
  using b = randn([10000], { seed: 7 });
  using c = randn([10000], { seed: 8 });
  const x = a.toFloat32Array();
  assertEquals([...x.slice(0, 5)], [...b.toTypedArray().slice(0, 5)]);
  assert(x[0] !== c.toTypedArray()[0], "another seed gives other numbers");
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
  assert(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
});

test("Rng.fillTruncatedNormal: the quantiles of N(0, 1) truncated at ±2, and nothing beyond", () => {
  const x = new Rng(5).fillTruncatedNormal(new Float32Array(200_000), 1).sort();
  // Φ⁻¹(Φ(−2) + u·(Φ(2) − Φ(−2))), computed with erf outside this code base
  const expected: [number, number][] = [[0.1, -1.18403], [0.25, -0.63911], [0.5, 0], [0.75, 0.63911], [0.99, 1.84808]];
  for (const [u, q] of expected) {
    const got = x[Math.floor(u * x.length)];
    assert(Math.abs(got - q) < 0.01, `quantile ${u}: ${got} vs ${q}`);
  }
  assert(x[0] >= -2 && x[x.length - 1] <= 2, "values stay within ±2");
});
