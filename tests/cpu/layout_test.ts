import { cpuBackend } from "../../core/backends/cpu/cpu_backend.ts";
import { DTypeError, ShapeError } from "../../core/errors.ts";
import { cast, clone, concat, embedding, narrow, permute, toDevice, transpose } from "../../core/ops.ts";
import { arange, tensor } from "../../core/tensor.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { flatIndex, indices, random } from "./_reference.ts";

test("cpu permute: every permutation of a 3-d tensor moves elements to the permuted index", () => {
  const shape = [2, 3, 4];
  using x = arange(0, 24);
  using x3 = x.reshape(shape);
  for (const dims of [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0], [0, 2, 1], [-1, 0, 1]]) {
    using y = permute(x3, dims);
    const order = dims.map((d) => (d + 3) % 3);
    const outShape = order.map((d) => shape[d]);
    assertEquals(y.shape, outShape);
    const yv = y.toTypedArray();
    for (const index of indices(outShape)) {
      const source = new Array<number>(3);
      order.forEach((d, i) => (source[d] = index[i]));
      assertEquals(yv[flatIndex(outShape, index)], flatIndex(shape, source), `dims ${dims} at ${index}`);
    }
  }
  using t = transpose(x3, 0, -1);
  assertEquals(t.shape, [4, 3, 2]);
  assertThrows(() => permute(x3, [0, 0, 1]), ShapeError, "permute", "[0, 0, 1]", "[2, 3, 4]");
  assertThrows(() => permute(x3, [0, 1]), ShapeError, "permute", "[2, 3, 4]");
});

test("cpu permute/concat/narrow/clone keep f16, bf16 and i32 bit patterns", () => {
  using h = tensor([[0.1, 2], [3, 65504]], { dtype: "f16" });
  using ht = permute(h, [1, 0]);
  assertEquals([...ht.hostData], [h.hostData[0], h.hostData[2], h.hostData[1], h.hostData[3]]);
  using ids = tensor(new Int32Array([1, -2, 3, 2147483647]), { shape: [2, 2] });
  using idsT = permute(ids, [1, 0]);
  assertEquals([...idsT.toTypedArray()], [1, 3, -2, 2147483647]);
  using c = clone(ids);
  assertEquals([...c.toTypedArray()], [1, -2, 3, 2147483647]);
  assert(c.hostData.buffer !== ids.hostData.buffer, "clone owns new storage");
  using b = tensor([1.5, -2.25], { dtype: "bf16" });
  using bb = concat([b, b], 0);
  assertEquals([...bb.hostData], [...b.hostData, ...b.hostData]);
});

test("cpu concat: along first, middle and last dims, sizes may differ on that dim", () => {
  using a = random([2, 3, 4], 1);
  using b = random([2, 1, 4], 2);
  using c = random([2, 2, 4], 3);
  using y = concat([a, b, c], 1);
  assertEquals(y.shape, [2, 6, 4]);
  const yv = y.toTypedArray();
  for (const index of indices([2, 6, 4])) {
    const [i, j, k] = index;
    const [src, jj] = j < 3 ? [a, j] : j < 4 ? [b, j - 3] : [c, j - 4];
    assertEquals(yv[flatIndex([2, 6, 4], index)], src.toTypedArray()[flatIndex(src.shape as number[], [i, jj, k])]);
  }
  using first = concat([a, a], 0);
  assertEquals([...first.toTypedArray()], [...a.toTypedArray(), ...a.toTypedArray()]);
  using d = random([2, 3, 1], 5);
  using last = concat([a, d], -1);
  assertEquals(last.shape, [2, 3, 5]);
  assertEquals(last.toTypedArray()[9], d.toTypedArray()[1], "row 1 ends with d's row 1");
  assertThrows(() => concat([a, b], 0), ShapeError, "concat", "[2, 3, 4]", "[2, 1, 4]");
  using h = random([2, 1, 4], 4, "f16");
  assertThrows(() => concat([a, h], 1), DTypeError, "concat", "f32", "f16");
});

test("cpu narrow: slices any dim, negative dims allowed, bounds checked", () => {
  using x = arange(0, 24);
  using x3 = x.reshape([2, 3, 4]);
  using y = narrow(x3, 1, 1, 2);
  assertEquals(y.toArray(), [[[4, 5, 6, 7], [8, 9, 10, 11]], [[16, 17, 18, 19], [20, 21, 22, 23]]]);
  using z = narrow(x3, -1, 3, 1);
  assertEquals(z.toArray(), [[[3], [7], [11]], [[15], [19], [23]]]);
  using empty = narrow(x3, 0, 2, 0);
  assertEquals(empty.shape, [0, 3, 4]);
  assertThrows(() => narrow(x3, 2, 3, 2), ShapeError, "narrow", "[2, 3, 4]");
  assertThrows(() => narrow(x3, 3, 0, 1), ShapeError, "narrow", "dim 3", "[2, 3, 4]");
});

test("cpu cast: rounds to nearest even, truncates to i32, and fromHost copies", () => {
  using x = tensor([1 + 2 ** -11, 1 + 3 * 2 ** -11, -2.7, 2.7, 70000]);
  using h = cast(x, "f16");
  assertEquals([...h.toTypedArray()], [1, 1 + 2 * 2 ** -10, -2.69921875, 2.69921875, Infinity]);
  using i = cast(x, "i32");
  assertEquals([...i.toTypedArray()], [1, 1, -2, 2, 70000]);
  using back = cast(i, "bf16");
  assertEquals([...back.toTypedArray()], [1, 1, -2, 2, 70144]);
  using copy = toDevice(h, "cpu");
  assertEquals([...copy.hostData], [...h.hostData]);
  assert(copy.hostData.buffer !== h.hostData.buffer, "fromHost copies");
  using same = cpuBackend.fromHost(i);
  assertEquals(same.dtype, "i32");
});

test("cpu embedding: rows by i32 ids in any shape; out-of-range ids name the id", () => {
  using table = tensor([[0, 1], [10, 11], [20, 21]], { dtype: "bf16" });
  using ids = tensor(new Int32Array([2, 0, 1, 2]), { shape: [2, 2] });
  using y = embedding(ids, table);
  assertEquals(y.shape, [2, 2, 2]);
  assertEquals(y.dtype, "bf16");
  assertEquals(y.toArray(), [[[20, 21], [0, 1]], [[10, 11], [20, 21]]]);
  using bad = tensor(new Int32Array([1, 3]));
  assertThrows(() => embedding(bad, table), ShapeError, "embedding", "id 3", "[3, 2]", "[2]");
  using negative = tensor(new Int32Array([-1]));
  assertThrows(() => embedding(negative, table), ShapeError, "embedding", "id -1");
  using floats = tensor([1, 2]);
  assertThrows(() => embedding(floats, table), DTypeError, "embedding", "i32", "f32");
});
