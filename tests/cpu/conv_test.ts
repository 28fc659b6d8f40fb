import { cpuParallelJobs, cpuThreads, setCpuThreads, startCpuWorkers } from "../../core/backends/cpu/cpu_backend.ts";
import { DTypeError, ShapeError } from "../../core/errors.ts";
import { causalConv1d, conv2d } from "../../core/ops.ts";
import { tensor } from "../../core/tensor.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { random } from "./_reference.ts";

interface ConvCase {
  x: number[];
  cout: number;
  k: [number, number];
  stride: [number, number];
  padding: [number, number];
  groups: number;
}

// Direct definition: out[b,o,y,x] = bias[o] + Σ_{c in group, ky, kx} in[b,c,y·s−p+ky, x·s−p+kx]·w[o,c',ky,kx].
function naiveConv(xv: Float32Array, wv: Float32Array, bv: Float32Array | undefined, c: ConvCase): Float64Array {
  const [batch, cin, h, w] = c.x;
  const [kh, kw] = c.k;
  const oh = Math.floor((h + 2 * c.padding[0] - kh) / c.stride[0]) + 1;
  const ow = Math.floor((w + 2 * c.padding[1] - kw) / c.stride[1]) + 1;
  const cinG = cin / c.groups;
  const coutG = c.cout / c.groups;
  const out = new Float64Array(batch * c.cout * oh * ow);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < c.cout; o++) {
      const g = Math.floor(o / coutG);
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          let s = bv?.[o] ?? 0;
          for (let ci = 0; ci < cinG; ci++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const iy = y * c.stride[0] - c.padding[0] + ky;
                const ix = x * c.stride[1] - c.padding[1] + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                s += xv[((b * cin + g * cinG + ci) * h + iy) * w + ix] * wv[((o * cinG + ci) * kh + ky) * kw + kx];
              }
            }
          }
          out[((b * c.cout + o) * oh + y) * ow + x] = s;
        }
      }
    }
  }
  return out;
}

function checkConv(c: ConvCase, seed: number, withBias = true): void {
  using x = random(c.x, seed);
  using w = random([c.cout, c.x[1] / c.groups, ...c.k], seed + 1);
  using b = random([c.cout], seed + 2);
  using y = conv2d(x, w, withBias ? b : undefined, { stride: c.stride, padding: c.padding, groups: c.groups });
  const expected = naiveConv(
    x.toTypedArray() as Float32Array,
    w.toTypedArray() as Float32Array,
    withBias ? b.toTypedArray() as Float32Array : undefined,
    c,
  );
  assertEquals(y.size, expected.length, "output size");
  assertClose(y.toTypedArray(), expected, { rtol: 1e-5, atol: 1e-5 }, JSON.stringify(c));
}

test("cpu conv2d: stride, padding, groups and 1×1 kernels match the direct definition", () => {
  checkConv({ x: [2, 4, 7, 6], cout: 6, k: [3, 3], stride: [2, 2], padding: [1, 1], groups: 2 }, 1);
  checkConv({ x: [1, 3, 5, 5], cout: 4, k: [1, 1], stride: [1, 1], padding: [0, 0], groups: 1 }, 4, false);
  checkConv({ x: [2, 3, 9, 8], cout: 5, k: [3, 2], stride: [2, 3], padding: [2, 1], groups: 1 }, 7);
  checkConv({ x: [1, 4, 6, 6], cout: 8, k: [3, 3], stride: [1, 1], padding: [1, 1], groups: 4 }, 10); // multiplier 2
});

test("cpu conv2d: depthwise 3×3 pad 1 and 5×5 pad 2 (stride 1 and 2)", () => {
  checkConv({ x: [2, 5, 7, 9], cout: 5, k: [3, 3], stride: [1, 1], padding: [1, 1], groups: 5 }, 20);
  checkConv({ x: [1, 6, 8, 8], cout: 6, k: [5, 5], stride: [1, 1], padding: [2, 2], groups: 6 }, 23);
  checkConv({ x: [1, 3, 9, 7], cout: 3, k: [5, 5], stride: [2, 2], padding: [2, 2], groups: 3 }, 26, false);
  checkConv({ x: [1, 2, 2, 2], cout: 2, k: [3, 3], stride: [1, 1], padding: [1, 1], groups: 2 }, 29); // kernel > input
});

test("cpu conv2d: patch embedding 16×16 stride 16 equals patches · weightᵀ", () => {
  using x = random([1, 3, 32, 48], 30);
  using w = random([8, 3, 16, 16], 31);
  using b = random([8], 32);
  using y = conv2d(x, w, b, { stride: 16 });
  assertEquals(y.shape, [1, 8, 2, 3]);
  const xv = x.toTypedArray();
  const wv = w.toTypedArray();
  const yv = y.toTypedArray();
  for (let py = 0; py < 2; py++) {
    for (let px = 0; px < 3; px++) {
      for (let o = 0; o < 8; o++) {
        let s = b.toTypedArray()[o];
        for (let c = 0; c < 3; c++) {
          for (let i = 0; i < 16; i++) {
            for (let j = 0; j < 16; j++) {
              s += xv[(c * 32 + py * 16 + i) * 48 + px * 16 + j] * wv[((o * 3 + c) * 16 + i) * 16 + j];
            }
          }
        }
        assertClose([yv[(o * 2 + py) * 3 + px]], [s], { rtol: 1e-5, atol: 1e-5 }, `patch ${py},${px} channel ${o}`);
      }
    }
  }
});

test("cpu conv2d: a large convolution runs on the worker pool with the same result", async () => {
  const before = cpuThreads();
  try {
    setCpuThreads(2);
    assertEquals(await startCpuWorkers(), 2, "the worker started");
    const jobs = cpuParallelJobs();
    checkConv({ x: [1, 16, 32, 32], cout: 32, k: [3, 3], stride: [1, 1], padding: [1, 1], groups: 1 }, 40);
    assert(cpuParallelJobs() > jobs, "the im2col product ran in parallel");
  } finally {
    setCpuThreads(before);
  }
});

test("cpu conv2d: bad shapes, groups and dtypes throw naming op and shapes", () => {
  using x = random([1, 4, 5, 5], 1);
  using w = random([6, 3, 3, 3], 2);
  assertThrows(() => conv2d(x, w), ShapeError, "conv2d", "[1, 4, 5, 5]", "[6, 3, 3, 3]");
  using w2 = random([6, 2, 3, 3], 3);
  using b = random([5], 4);
  assertThrows(() => conv2d(x, w2, b, { groups: 2 }), ShapeError, "conv2d", "[6, 2, 3, 3]", "[5]");
  assertThrows(() => conv2d(x, w2, undefined, { groups: 3 }), ShapeError, "conv2d", "groups 3");
  using big = random([6, 4, 7, 7], 5);
  assertThrows(() => conv2d(x, big), ShapeError, "conv2d", "[6, 4, 7, 7]");
  using wh = random([6, 4, 3, 3], 6, "f16");
  assertThrows(() => conv2d(x, wh), DTypeError, "conv2d", "f32", "f16");
  using w4 = random([6, 4, 3, 3], 7);
  assertThrows(() => conv2d(x, w4, undefined, { stride: 0 }), ShapeError, "conv2d", "stride");
});

test("cpu causalConv1d: values match the padded definition and outputs never see the future", () => {
  using x = random([2, 3, 9], 50);
  using w = random([3, 1, 4], 51);
  using b = random([3], 52);
  using y = causalConv1d(x, w, b);
  const xv = x.toTypedArray();
  const wv = w.toTypedArray();
  const expected: number[] = [];
  for (let row = 0; row < 6; row++) {
    const c = row % 3;
    for (let t = 0; t < 9; t++) {
      let s = b.toTypedArray()[c];
      for (let j = 0; j < 4; j++) {
        const src = t - 3 + j;
        if (src >= 0) s += wv[c * 4 + j] * xv[row * 9 + src];
      }
      expected.push(s);
    }
  }
  assertClose(y.toTypedArray(), expected, { rtol: 1e-5, atol: 1e-6 });
  // Perturb x at t = 5: outputs before t = 5 must not move; t = 5..8 must.
  const changed = Float32Array.from(xv);
  changed[5] += 10;
  using x2 = tensor(changed, { shape: [2, 3, 9] });
  using y2 = causalConv1d(x2, w, b);
  const before = y.toTypedArray();
  const after = y2.toTypedArray();
  for (let t = 0; t < 9; t++) {
    assert((after[t] !== before[t]) === t >= 5, `output ${t} ${t >= 5 ? "should" : "must not"} change`);
  }
  using k1 = tensor([[[2]], [[3]], [[-1]]]);
  using y1 = causalConv1d(x, k1, undefined);
  assertClose(y1.toTypedArray(), Array.from(xv, (v, i) => v * [2, 3, -1][Math.floor(i / 9) % 3]), {
    rtol: 1e-7,
    atol: 0,
  });
});

test("cpu causalConv1d: wrong shapes throw naming op and shapes", () => {
  using x = random([2, 3, 9], 1);
  using w = random([4, 1, 3], 2);
  assertThrows(() => causalConv1d(x, w, undefined), ShapeError, "causalConv1d", "[2, 3, 9]", "[4, 1, 3]");
  using w3 = random([3, 1, 3], 3);
  using b = random([2], 4);
  assertThrows(() => causalConv1d(x, w3, b), ShapeError, "causalConv1d", "[2]");
});
