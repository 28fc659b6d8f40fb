// Data movement and bookkeeping: permute, concat, narrow and embedding (and its out-of-range
// error) on CUDA and the CPU backend; CUDA upload/download round trips, shape errors, and the
// caching allocator's live/peak bytes.
import { AttnzooError, ShapeError } from "../../core/errors.ts";
import { tensor } from "../../core/tensor.ts";
import { test } from "../_harness.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { coordsOf, strides } from "./_reference.ts";
import { compare, gpu, sample, targets, values } from "./_setup.ts";

test("permute, concat and narrow copy the right elements (bf16 and f32 bit-exact)", () => {
  const on = targets("layout");
  if (on.length === 0) return;
  for (const dtype of ["f32", "bf16"] as const) {
    const shape = [3, 4, 5, 7];
    const x = sample(shape, dtype, 41);
    const [vx] = values(x);
    for (const dims of [[0, 2, 1, 3], [3, 1, 0, 2], [-1, 0, 1, 2]]) {
      const order = dims.map((d) => (d < 0 ? d + 4 : d));
      const outShape = order.map((d) => shape[d]);
      const st = strides(shape);
      const want = Float64Array.from({ length: vx.length }, (_, i) => {
        const c = coordsOf(i, outShape);
        return vx[order.reduce((acc, d, j) => acc + c[j] * st[d], 0)];
      });
      compare(
        `permute ${dims} ${dtype}`,
        on,
        [x],
        (be, [t]) => be.permute(t, dims),
        { shape: outShape, values: want },
        "f32",
      );
    }
    for (const dim of [0, 2, 3]) {
      const other = shape.map((s, i) => (i === dim ? 2 : s));
      const y = sample(other, dtype, 42);
      const [vy] = values(y);
      const outShape = shape.map((s, i) => (i === dim ? s + 2 : s));
      const want = Float64Array.from({ length: vx.length + vy.length }, (_, i) => {
        const c = coordsOf(i, outShape);
        if (c[dim] < shape[dim]) return vx[c.reduce((acc, v, j) => acc + v * strides(shape)[j], 0)];
        c[dim] -= shape[dim];
        return vy[c.reduce((acc, v, j) => acc + v * strides(other)[j], 0)];
      });
      compare(`concat dim ${dim} ${dtype}`, on, [x, y], (be, ts) => be.concat(ts, dim), {
        shape: outShape,
        values: want,
      }, "f32");
      const narrowShape = shape.map((s, i) => (i === dim ? s - 2 : s));
      const cut = Float64Array.from({ length: narrowShape.reduce((a, b) => a * b, 1) }, (_, i) => {
        const c = coordsOf(i, narrowShape);
        c[dim] += 1;
        return vx[c.reduce((acc, v, j) => acc + v * strides(shape)[j], 0)];
      });
      compare(`narrow dim ${dim} ${dtype}`, on, [x], (be, [t]) => be.narrow(t, dim, 1, shape[dim] - 2), {
        shape: narrowShape,
        values: cut,
      }, "f32");
      y.dispose();
    }
    x.dispose();
  }
});

// The CUDA permute collapses dims (size-1 dims dropped, adjacent ones merged) and, when the last
// dim stays innermost, copies runs of it in the widest unit its byte length allows: 16 bytes
// (bf16 runs of 8 or 16), 4 (runs of 6), 2 (runs of 7); an order-preserving permute is one copy;
// one that swaps the last two collapsed dims is a batched transpose of 32×32 tiles (partial tiles
// at 33, 40, 65, 70; batches of 1, 3 and 2·3).
test("permute fast paths: head splits, size-1 dims, plain transposes, identity", () => {
  const on = targets("permute paths");
  if (on.length === 0) return;
  const cases: [number[], number[]][] = [
    [[2, 5, 3, 4, 8], [2, 0, 3, 1, 4]],
    [[2, 5, 3, 4, 16], [2, 0, 3, 1, 4]],
    [[2, 5, 3, 4, 6], [2, 0, 3, 1, 4]],
    [[2, 5, 3, 4, 7], [2, 0, 3, 1, 4]],
    [[3, 4, 5, 8], [0, 2, 1, 3]],
    [[1, 5, 1, 8], [2, 1, 0, 3]],
    [[4, 1, 6], [1, 0, 2]],
    [[33, 17], [1, 0]],
    [[3, 40, 70], [0, 2, 1]],
    [[2, 3, 5, 7], [0, 1, 3, 2]],
    [[1, 65, 33], [0, 2, 1]],
    [[2, 3, 4], [0, 1, 2]],
  ];
  for (const dtype of ["f32", "bf16"] as const) {
    for (const [shape, dims] of cases) {
      const x = sample(shape, dtype, 47);
      const [vx] = values(x);
      const outShape = dims.map((d) => shape[d]);
      const st = strides(shape);
      const want = Float64Array.from({ length: vx.length }, (_, i) => {
        const c = coordsOf(i, outShape);
        return vx[dims.reduce((acc, d, j) => acc + c[j] * st[d], 0)];
      });
      compare(`permute [${shape}] by [${dims}] ${dtype}`, on, [x], (be, [t]) => be.permute(t, dims), {
        shape: outShape,
        values: want,
      }, "f32");
      x.dispose();
    }
  }
});

// CUDA copies concat and narrow rows in the widest unit that the row width, both pitches and both
// start addresses allow: 16-byte rows at 16-byte offsets, 2-byte units for odd offsets or widths.
test("narrow and concat with 16-byte-aligned and unaligned rows", () => {
  const on = targets("copy paths");
  if (on.length === 0) return;
  const shape = [4, 6, 16];
  const x = sample(shape, "bf16", 48);
  const [vx] = values(x);
  const at = (c: number[]) => vx[c.reduce((acc, v, j) => acc + v * strides(shape)[j], 0)];
  for (const [dim, start, length] of [[1, 1, 4], [2, 1, 8], [2, 8, 8], [2, 3, 5], [0, 1, 2]]) {
    const outShape = shape.map((s, i) => (i === dim ? length : s));
    const want = Float64Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, (_, i) => {
      const c = coordsOf(i, outShape);
      c[dim] += start;
      return at(c);
    });
    compare(
      `narrow dim ${dim} from ${start} length ${length}`,
      on,
      [x],
      (be, [t]) => be.narrow(t, dim, start, length),
      {
        shape: outShape,
        values: want,
      },
      "f32",
    );
  }
  for (const [dim, extra] of [[1, 2], [2, 3], [2, 8]]) {
    const other = shape.map((s, i) => (i === dim ? extra : s));
    const y = sample(other, "bf16", 49);
    const [vy] = values(y);
    const outShape = shape.map((s, i) => (i === dim ? s + extra : s));
    const want = Float64Array.from({ length: vx.length + vy.length }, (_, i) => {
      const c = coordsOf(i, outShape);
      if (c[dim] < shape[dim]) return at(c);
      c[dim] -= shape[dim];
      return vy[c.reduce((acc, v, j) => acc + v * strides(other)[j], 0)];
    });
    // y first, then x: x's rows start at y's (possibly unaligned) width
    const swapped = Float64Array.from({ length: want.length }, (_, i) => {
      const c = coordsOf(i, outShape);
      if (c[dim] < extra) return vy[c.reduce((acc, v, j) => acc + v * strides(other)[j], 0)];
      c[dim] -= extra;
      return at(c);
    });
    compare(`concat dim ${dim} +${extra}`, on, [x, y], (be, ts) => be.concat(ts, dim), {
      shape: outShape,
      values: want,
    }, "f32");
    compare(`concat dim ${dim} ${extra}+`, on, [y, x], (be, ts) => be.concat(ts, dim), {
      shape: outShape,
      values: swapped,
    }, "f32");
    y.dispose();
  }
  x.dispose();
});

test("embedding gathers rows and rejects an out-of-range id with an error naming the op", () => {
  const on = targets("embedding");
  if (on.length === 0) return;
  const table = sample([11, 37], "bf16", 43);
  const [vt] = values(table);
  const ids = tensor(new Int32Array([3, 0, 10, 3, 7, 1]), { shape: [2, 3] });
  const want = Float64Array.from({ length: 6 * 37 }, (_, i) => vt[ids.hostData[Math.floor(i / 37)] * 37 + (i % 37)]);
  compare(
    "embedding",
    on,
    [ids, table],
    (be, [i, t]) => be.embedding(i, t),
    { shape: [2, 3, 37], values: want },
    "f32",
  );
  // the CUDA kernel finds the bad id on the device and reports it as the CPU does, with the op's name
  const bad = tensor(new Int32Array([1, 11]));
  for (const [name, backend] of on) {
    const [ids2, t2] = [backend.fromHost(bad), backend.fromHost(table)];
    const error = assertThrows(() => backend.embedding(ids2, t2), AttnzooError, "embedding");
    if (name === "cuda") assert(error instanceof ShapeError && error.message.includes("[0, 11)"), error.message);
    ids2.dispose();
    t2.dispose();
  }
});

test("cuda upload/download round-trips every dtype bit for bit", () => {
  const g = gpu("cuda round trip");
  if (!g) return;
  for (const dtype of ["f32", "f16", "bf16"] as const) {
    const x = sample([3, 1001], dtype, 44);
    const y = g.fromHost(x);
    assertEquals(Array.from(y.toTypedArray()), Array.from(x.toTypedArray()), `${dtype} round trip`);
    x.dispose();
    y.dispose();
  }
  const ints = tensor(new Int32Array([-5, 0, 2147483647, -2147483648]));
  const onGpu = g.fromHost(ints);
  assertEquals(Array.from(onGpu.toTypedArray()), [-5, 0, 2147483647, -2147483648], "i32 round trip");
  const empty = g.fromHost(tensor([], { shape: [0, 3] }));
  assertEquals(empty.shape, [0, 3]);
  assertClose(empty.toFloat32Array(), [], {}, "empty tensor");
  for (const t of [ints, onGpu, empty]) t.dispose();
});

test("cuda ops reject bad shapes and mixed dtypes before any kernel runs", () => {
  const g = gpu("cuda validation");
  if (!g) return;
  const x = g.fromHost(sample([2, 3], "f32", 45)), y = g.fromHost(sample([4, 3], "f32", 46));
  assertThrows(() => g.binary("add", x, y), ShapeError, "add", "[2, 3]", "[4, 3]");
  assertThrows(() => g.narrow(x, 1, 2, 2), ShapeError, "narrow");
  assertThrows(() => g.permute(x, [0, 0]), ShapeError, "permute");
  assertThrows(() => g.softmax(x, 2), ShapeError, "softmax", "dim 2");
  assertThrows(() => g.concat([x, g.fromHost(sample([2, 4, 1], "f32", 1))], 0), ShapeError, "concat");
  for (const t of [x, y]) t.dispose();
});

test("cuda caching allocator reuses freed blocks and tracks live and peak bytes", () => {
  const g = gpu("cuda allocator");
  if (!g) return;
  g.synchronize();
  const before = g.memoryStats();
  g.resetPeak();
  const a = g.empty([1000, 1000], "f32"); // 4 MB: a size class of its own
  const afterAlloc = g.memoryStats();
  assert(
    afterAlloc.liveBytes - before.liveBytes >= 4_000_000,
    `live grew by ${afterAlloc.liveBytes - before.liveBytes}`,
  );
  assert(afterAlloc.peakBytes >= afterAlloc.liveBytes, "peak ≥ live");
  a.dispose();
  const afterFree = g.memoryStats();
  assertEquals(afterFree.liveBytes, before.liveBytes, "live back to where it was");
  assert(afterFree.cachedBytes >= 4_000_000, `freed block cached (${afterFree.cachedBytes})`);
  const b = g.empty([999, 1001], "f32"); // same size class: served from the cache
  assertEquals(
    g.memoryStats().cachedBytes,
    afterFree.cachedBytes - (afterAlloc.liveBytes - before.liveBytes),
    "cache reused",
  );
  b.dispose();
  assert(g.memoryStats().peakBytes === afterAlloc.peakBytes, "peak unchanged by reuse");
});
