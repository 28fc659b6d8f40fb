import { cpuParallelJobs, cpuThreads, setCpuThreads, startCpuWorkers } from "../../core/backends/cpu/cpu_backend.ts";
import { ConfigError, DTypeError, ShapeError } from "../../core/errors.ts";
import { linear, matmul } from "../../core/ops.ts";
import { tensor } from "../../core/tensor.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { naiveMatmul, random, transposed } from "./_reference.ts";

function checkProduct(m: number, k: number, n: number, transA: boolean, transB: boolean, seed: number): void {
  using a = random(transA ? [k, m] : [m, k], seed);
  using b = random(transB ? [n, k] : [k, n], seed + 1);
  using c = matmul(a, b, { transA, transB });
  assertEquals(c.shape, [m, n]);
  const av = transA ? transposed(a.toTypedArray(), k, m) : a.toTypedArray();
  const bv = transB ? transposed(b.toTypedArray(), n, k) : b.toTypedArray();
  assertClose(c.toTypedArray(), naiveMatmul(av, bv, m, k, n), { rtol: 1e-5, atol: 1e-5 }, `${m}x${k}x${n}`);
}

test("cpu matmul: odd and size-1 shapes, every transpose combination, match a naive product", () => {
  const sizes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [13, 17, 19], [5, 1, 9], [1, 300, 1], [66, 259, 5], [
    2,
    700,
    37,
  ], [1, 40, 600]];
  let seed = 0;
  for (const [m, k, n] of sizes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) checkProduct(m, k, n, transA, transB, seed++);
    }
  }
});

test("cpu matmul: known 2×2 product", () => {
  using a = tensor([[1, 2], [3, 4]]);
  using b = tensor([[5, 6], [7, 8]]);
  using c = matmul(a, b);
  assertEquals(c.toArray(), [[19, 22], [43, 50]]);
  using ct = matmul(a, b, { transA: true, transB: true }); // (BA)ᵀ
  assertEquals(ct.toArray(), [[23, 31], [34, 46]]);
});

test("cpu matmul: batch dims broadcast like PyTorch", () => {
  using a = random([2, 1, 5, 6], 10);
  using b = random([3, 6, 4], 11);
  using c = matmul(a, b);
  assertEquals(c.shape, [2, 3, 5, 4]);
  const av = a.toTypedArray();
  const bv = b.toTypedArray();
  const cv = c.toTypedArray();
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      const expected = naiveMatmul(av.subarray(i * 30, i * 30 + 30), bv.subarray(j * 24, j * 24 + 24), 5, 6, 4);
      assertClose(cv.subarray((i * 3 + j) * 20, (i * 3 + j + 1) * 20), expected, { rtol: 1e-5, atol: 1e-6 });
    }
  }
  using shared = random([5, 6], 12); // 2-d A against a batch of B
  using d = matmul(shared, b);
  assertEquals(d.shape, [3, 5, 4]);
  const sv = shared.toTypedArray();
  for (let j = 0; j < 3; j++) {
    const expected = naiveMatmul(sv, bv.subarray(j * 24, j * 24 + 24), 5, 6, 4);
    assertClose(d.toTypedArray().subarray(j * 20, j * 20 + 20), expected, { rtol: 1e-5, atol: 1e-6 });
  }
});

test("cpu matmul: empty inner dim gives zeros, empty rows give an empty result", () => {
  using a = tensor(new Float32Array(0), { shape: [3, 0] });
  using b = tensor(new Float32Array(0), { shape: [0, 2] });
  using c = matmul(a, b);
  assertEquals(c.toArray(), [[0, 0], [0, 0], [0, 0]]);
  using e = matmul(b, random([2, 4], 1));
  assertEquals(e.shape, [0, 4]);
});

test("cpu matmul: large products use the workers and equal the single-thread result bit for bit", async () => {
  const before = cpuThreads();
  try {
    setCpuThreads(2);
    assertEquals(await startCpuWorkers(), 2, "the worker started");
    const cases: [number[], number[], boolean, boolean][] = [
      [[161, 203], [203, 150], false, false],
      [[3, 129, 67], [3, 96, 129], true, true], // rows split across batch boundaries
      [[40, 3, 700], [1, 700, 300], false, false], // matrix-vector rows, B broadcast over the batch
      [[1, 1024], [1024, 1030], false, false], // one row: the split runs over columns
      [[3, 600], [1000, 600], false, true],
    ];
    for (const [shapeA, shapeB, transA, transB] of cases) {
      using a = random(shapeA, 20);
      using b = random(shapeB, 21);
      setCpuThreads(1);
      const jobs = cpuParallelJobs();
      using single = matmul(a, b, { transA, transB });
      assertEquals(cpuParallelJobs(), jobs, "one thread runs no parallel job");
      setCpuThreads(2);
      // an idle Deno worker closes itself; on a loaded machine its restart can outlast the
      // pool's wait, so make sure it runs before asserting that it took part
      assertEquals(await startCpuWorkers(), 2, "the worker runs");
      using parallel = matmul(a, b, { transA, transB });
      assert(cpuParallelJobs() === jobs + 1, "the product ran on the worker pool");
      assertEquals([...parallel.toTypedArray()], [...single.toTypedArray()], "parallel equals single-thread");
      const [m, k] = transA ? [shapeA.at(-1)!, shapeA.at(-2)!] : [shapeA.at(-2)!, shapeA.at(-1)!];
      const n = transB ? shapeB.at(-2)! : shapeB.at(-1)!;
      const batches = a.size / (m * k);
      for (let t = 0; t < batches; t++) {
        const av = a.toTypedArray().subarray(t * m * k, (t + 1) * m * k);
        const tb = b.size === k * n ? 0 : t; // B may be broadcast over the batch
        const bv = b.toTypedArray().subarray(tb * k * n, (tb + 1) * k * n);
        const expected = naiveMatmul(transA ? transposed(av, k, m) : av, transB ? transposed(bv, n, k) : bv, m, k, n);
        assertClose(parallel.toTypedArray().subarray(t * m * n, (t + 1) * m * n), expected, { rtol: 1e-4, atol: 1e-4 });
      }
    }
  } finally {
    setCpuThreads(before);
  }
});

test("cpu matmul: f16 and bf16 compute in f32 and round once", () => {
  for (const dtype of ["f16", "bf16"] as const) {
    using a = random([7, 33], 30, dtype);
    using b = random([33, 5], 31, dtype);
    using c = matmul(a, b);
    assertEquals(c.dtype, dtype);
    using a32 = tensor(a.toTypedArray(), { shape: [7, 33] });
    using b32 = tensor(b.toTypedArray(), { shape: [33, 5] });
    using c32 = matmul(a32, b32);
    using expected = tensor(c32.toTypedArray(), { shape: [7, 5], dtype });
    assertEquals([...c.hostData], [...expected.hostData], `${dtype} rounds the f32 result once`);
  }
});

test("cpu matmul: bad shapes and dtypes throw typed errors naming op and shapes", () => {
  using a = random([2, 3], 1);
  using b = random([4, 5], 2);
  assertThrows(() => matmul(a, b), ShapeError, "matmul", "[2, 3]", "[4, 5]");
  using v = random([3], 3);
  assertThrows(() => matmul(a, v), ShapeError, "matmul", "[2, 3]", "[3]");
  using x = random([2, 2, 3], 4);
  using y = random([3, 3, 4], 5);
  assertThrows(() => matmul(x, y), ShapeError, "matmul", "[2, 2, 3]", "[3, 3, 4]");
  using h = random([3, 4], 6, "f16");
  assertThrows(() => matmul(a, h), DTypeError, "matmul", "f32", "f16");
  using ids = tensor(new Int32Array(6), { shape: [3, 2] });
  using idsB = tensor(new Int32Array(6), { shape: [2, 3] });
  assertThrows(() => matmul(ids, idsB), DTypeError, "matmul", "i32");
});

test("cpu matmul: scale multiplies the product before the one rounding", () => {
  using a = random([2, 5, 9], 50, "bf16");
  using b = random([2, 7, 9], 51, "bf16");
  using scaled = matmul(a, b, { transB: true, scale: 0.3 });
  using a32 = tensor(a.toTypedArray(), { shape: [2, 5, 9] });
  using b32 = tensor(b.toTypedArray(), { shape: [2, 7, 9] });
  using plain = matmul(a32, b32, { transB: true });
  using expected = tensor(plain.toTypedArray().map((v) => v * 0.3), { shape: [2, 5, 7], dtype: "bf16" });
  assertEquals([...scaled.hostData], [...expected.hostData]);
});

test("cpu linear: x @ Wᵀ + bias, then GELU-tanh, in f32 with one rounding; bad shapes throw", () => {
  const [m, k, n] = [6, 19, 7];
  using x = random([2, 3, k], 40);
  using w = random([n, k], 41);
  using bias = random([n], 42);
  const product = naiveMatmul(x.toTypedArray(), transposed(w.toTypedArray(), n, k), m, k, n);
  const biased = product.map((v, i) => v + bias.toTypedArray()[i % n]);
  const c = Math.sqrt(2 / Math.PI);
  const activated = biased.map((v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))));
  using plain = linear(x, w);
  assertEquals(plain.shape, [2, 3, n]);
  assertClose(plain.toTypedArray(), product, { rtol: 1e-5, atol: 1e-5 }, "no bias");
  using withBias = linear(x, w, { bias });
  assertClose(withBias.toTypedArray(), biased, { rtol: 1e-5, atol: 1e-5 }, "bias");
  using withGelu = linear(x, w, { bias, gelu: true });
  assertClose(withGelu.toTypedArray(), activated, { rtol: 1e-5, atol: 1e-5 }, "bias + gelu");
  using xh = random([m, k], 43, "bf16");
  using wh = random([n, k], 44, "bf16");
  using bh = random([n], 45, "bf16");
  using yh = linear(xh, wh, { bias: bh });
  const exact = naiveMatmul(xh.toTypedArray(), transposed(wh.toTypedArray(), n, k), m, k, n)
    .map((v, i) => v + bh.toTypedArray()[i % n]);
  using rounded = tensor(Float32Array.from(exact), { shape: [m, n], dtype: "bf16" });
  assertEquals([...yh.hostData], [...rounded.hostData], "bf16 rounds the biased f32 result once");
  using wrongK = random([n, k + 1], 46);
  assertThrows(() => linear(x, wrongK), ShapeError, "linear", "[2, 3, 19]", "[7, 20]");
  using wrongBias = random([n + 1], 47);
  assertThrows(() => linear(x, w, { bias: wrongBias }), ShapeError, "linear", "[8]");
  assertThrows(() => linear(x, wh), DTypeError, "linear", "f32", "bf16");
});

test("cpu threads: setCpuThreads rejects counts below 1 and non-integers", () => {
  assertThrows(() => setCpuThreads(0), ConfigError, "setCpuThreads", "threads", "0");
  assertThrows(() => setCpuThreads(1.5), ConfigError, "setCpuThreads", "1.5");
});
