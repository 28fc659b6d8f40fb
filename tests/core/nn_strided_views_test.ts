// The strided operand views fused attention kernels are launched with: element (batch, token, head)
// strides and byte addresses derived from the layouts, checked element by element against the
// layouts' own index formulas, and the output freed when a launch fails.
import "../../mod.ts";
import { DisposedTensorError } from "../../core/errors.ts";
import { type HeadGeometry, headMajorViews, launchInto, packedViews, type StridedView } from "../../core/nn/mod.ts";
import { type Tensor, zeros } from "../../core/tensor.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";

/** Fake device addresses: each tensor gets its own base, far apart. */
function fakePointers(): (t: Tensor) => bigint {
  const bases = new Map<Tensor, bigint>();
  return (t) => {
    if (!bases.has(t)) bases.set(t, BigInt(bases.size + 1) << 32n);
    return bases.get(t)!;
  };
}

/** Element index of (batch, token, head, i) through a view, relative to `base` (bytes per element `size`). */
function element(view: StridedView, base: bigint, size: number, b: number, n: number, h: number, i: number): number {
  const [sb, sn, sh] = view.strides;
  return Number(view.address - base) / size + b * sb + n * sn + h * sh + i;
}

test("headMajorViews: [B, H, N, d] tensors (k, v with a cache's capacity) address every element where it lies", () => {
  const pointer = fakePointers();
  const [batch, heads, kvHeads, nq, capacity, d] = [2, 4, 2, 3, 7, 8];
  using q = zeros([batch, heads, nq, d], "bf16");
  using k = zeros([batch, kvHeads, capacity, d], "bf16");
  using v = zeros([batch, kvHeads, capacity, d], "bf16");
  using o = zeros([batch, heads, nq, d], "bf16");
  const views = headMajorViews(pointer, q, k, v, o);
  for (const [name, t] of [["q", q], ["k", k], ["v", v], ["o", o]] as const) {
    const [, count, tokens] = t.shape;
    const view = views[name];
    assert(view.address === pointer(t), `${name} address`);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < count; h++) {
        for (let n = 0; n < tokens; n++) {
          const expected = ((b * count + h) * tokens + n) * d + 5;
          assertEquals(element(view, pointer(t), 2, b, n, h, 5), expected, `${name}[${b}, ${h}, ${n}, 5]`);
        }
      }
    }
  }
});

test("packedViews: q, k, v are head slices of the packed projection, o is [B, N, H·d]", () => {
  const pointer = fakePointers();
  const geometry: HeadGeometry = { heads: 4, kvHeads: 1, headDim: 8, group: 4 };
  const { heads, kvHeads, headDim: d } = geometry;
  const [batch, n] = [2, 5];
  const width = (heads + 2 * kvHeads) * d;
  for (const dtype of ["bf16", "f32"] as const) {
    const size = dtype === "f32" ? 4 : 2;
    using qkv = zeros([batch, n, width], dtype);
    using o = zeros([batch, n, heads * d], dtype);
    const views = packedViews(pointer, qkv, geometry, o);
    const firstHead = { q: 0, k: heads, v: heads + kvHeads };
    for (const [name, count] of [["q", heads], ["k", kvHeads], ["v", kvHeads]] as const) {
      for (let b = 0; b < batch; b++) {
        for (let t = 0; t < n; t++) {
          for (let h = 0; h < count; h++) {
            const expected = (b * n + t) * width + (firstHead[name] + h) * d + 3;
            assertEquals(element(views[name], pointer(qkv), size, b, t, h, 3), expected, `${dtype} ${name}`);
          }
        }
      }
    }
    assert(views.o.address === pointer(o), "o address");
    assertEquals(element(views.o, pointer(o), size, 1, 4, 3, 2), (1 * n + 4) * heads * d + 3 * d + 2);
  }
});

test("launchInto returns the filled output, and frees it when the launch throws", () => {
  using filled = zeros([2]);
  const returned = launchInto(filled, () => {});
  assert(returned === filled, "the same tensor comes back");
  const failing = zeros([2]);
  assertThrows(
    () =>
      launchInto(failing, () => {
        throw new Error("launch failed");
      }),
    Error,
    "launch failed",
  );
  assertThrows(() => failing.toArray(), DisposedTensorError);
});
