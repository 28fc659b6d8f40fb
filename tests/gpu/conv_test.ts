// Convolutions and resampling on CUDA and the CPU backend against the definitions: conv2d (CUDA:
// im2col + cuBLASLt for one group, patch embeddings included; direct kernel for other groups;
// depthwise fast path), causal depthwise conv1d, adaptive average pooling with PyTorch's
// overlapping bins, and bilinear resize for both align_corners settings.
import { test } from "../_harness.ts";
import { conv2dRef } from "./_reference.ts";
import { compare, sample, targets, values } from "./_setup.ts";

const DTYPES = ["f32", "bf16"] as const;

// [x, weight, stride, padding, groups]
const CONVS: [number[], number[], [number, number], [number, number], number][] = [
  [[2, 3, 11, 13], [5, 3, 3, 3], [1, 1], [1, 1], 1], // im2col + GEMM, padded
  [[1, 3, 29, 31], [8, 3, 7, 7], [4, 4], [3, 3], 1], // overlapping patch embedding (PVTv2's stem)
  [[2, 6, 5, 7], [4, 6, 1, 1], [1, 1], [0, 0], 1], // 1×1
  [[2, 3, 20, 12], [7, 3, 4, 4], [4, 4], [0, 0], 1], // patch embedding
  [[1, 3, 23, 17], [4, 3, 4, 4], [4, 4], [0, 0], 1], // patch embedding with ragged edges
  [[1, 4, 9, 10], [6, 2, 3, 2], [2, 1], [0, 1], 2], // grouped, rectangular kernel: direct kernel
  [[1, 4, 8, 9], [4, 1, 3, 2], [1, 1], [1, 0], 4], // depthwise, non-square: direct kernel
  [[2, 6, 13, 11], [6, 1, 3, 3], [1, 1], [1, 1], 6], // depthwise 3×3
  [[1, 5, 15, 14], [5, 1, 7, 7], [2, 2], [3, 3], 5], // depthwise 7×7, strided
  [[1, 8, 9, 9], [8, 1, 5, 5], [1, 1], [2, 2], 8], // depthwise 5×5
];

test("conv2d: im2col/GEMM, patch embedding, grouped direct and depthwise paths", () => {
  const on = targets("conv2d");
  if (on.length === 0) return;
  for (const dtype of DTYPES) {
    for (const [xs, ws, stride, padding, groups] of CONVS) {
      const x = sample(xs, dtype, 31), w = sample(ws, dtype, 32, 0.5), b = sample([ws[0]], dtype, 33);
      const [vx, vw, vb] = values(x, w, b);
      const fanIn = ws[1] * ws[2] * ws[3];
      compare(
        `conv2d x${xs} w${ws} s${stride} p${padding} g${groups} ${dtype}`,
        on,
        [x, w, b],
        (be, [tx, tw, tb]) => be.conv2d(tx, tw, tb, { stride, padding, groups }),
        conv2dRef(vx, xs, vw, ws, vb, stride, padding, groups),
        dtype,
        Math.sqrt(fanIn) * 2,
      );
      compare(
        `conv2d no bias x${xs} ${dtype}`,
        on,
        [x, w],
        (be, [tx, tw]) => be.conv2d(tx, tw, undefined, { stride, padding, groups }),
        conv2dRef(vx, xs, vw, ws, undefined, stride, padding, groups),
        dtype,
        Math.sqrt(fanIn) * 2,
      );
      for (const t of [x, w, b]) t.dispose();
    }
  }
});

test("causal depthwise conv1d pads K−1 on the left only", () => {
  const on = targets("causalConv1d");
  if (on.length === 0) return;
  for (const dtype of DTYPES) {
    for (const [bn, c, n, k] of [[2, 5, 37, 4], [1, 3, 2, 4], [1, 2, 9, 1]]) {
      const x = sample([bn, c, n], dtype, 34), w = sample([c, 1, k], dtype, 35), b = sample([c], dtype, 36);
      const [vx, vw, vb] = values(x, w, b);
      const want = new Float64Array(bn * c * n);
      for (let i = 0; i < want.length; i++) {
        const t = i % n, ch = Math.floor(i / n) % c;
        let s = vb[ch];
        for (let j = 0; j < k; j++) {
          const src = t - (k - 1) + j;
          if (src >= 0) s += vx[i - t + src] * vw[ch * k + j];
        }
        want[i] = s;
      }
      compare(
        `causalConv1d [${bn}, ${c}, ${n}] K=${k} ${dtype}`,
        on,
        [x, w, b],
        (be, [tx, tw, tb]) => be.causalConv1d(tx, tw, tb),
        { shape: [bn, c, n], values: want },
        dtype,
        2,
      );
      for (const t of [x, w, b]) t.dispose();
    }
  }
});

function bilinearRef(
  x: Float64Array,
  [bn, c, h, w]: number[],
  [oh, ow]: [number, number],
  align: boolean,
): Float64Array {
  const src = (d: number, inp: number, out: number) => {
    if (align) return out > 1 ? (d * (inp - 1)) / (out - 1) : 0;
    return Math.max(0, (d + 0.5) * (inp / out) - 0.5);
  };
  const out = new Float64Array(bn * c * oh * ow);
  for (let p = 0; p < bn * c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const sy = src(oy, h, oh), sx = src(ox, w, ow);
        const y0 = Math.floor(sy), x0 = Math.floor(sx);
        const y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
        const ly = sy - y0, lx = sx - x0;
        const v = (y: number, xx: number) => x[(p * h + y) * w + xx];
        out[(p * oh + oy) * ow + ox] = (1 - ly) * ((1 - lx) * v(y0, x0) + lx * v(y0, x1)) +
          ly * ((1 - lx) * v(y1, x0) + lx * v(y1, x1));
      }
    }
  }
  return out;
}

test("adaptive avg pool (overlapping bins) and bilinear resize (both align_corners)", () => {
  const on = targets("pool/resize");
  if (on.length === 0) return;
  for (const dtype of DTYPES) {
    const shape = [2, 3, 10, 7];
    const x = sample(shape, dtype, 37);
    const [vx] = values(x);
    for (const size of [[3, 4], [1, 1], [10, 7], [13, 9]] as [number, number][]) {
      const [oh, ow] = size;
      const want = new Float64Array(6 * oh * ow);
      for (let p = 0; p < 6; p++) {
        for (let i = 0; i < oh; i++) {
          for (let j = 0; j < ow; j++) {
            const y0 = Math.floor((i * 10) / oh), y1 = Math.ceil(((i + 1) * 10) / oh);
            const x0 = Math.floor((j * 7) / ow), x1 = Math.ceil(((j + 1) * 7) / ow);
            let s = 0;
            for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) s += vx[(p * 10 + y) * 7 + xx];
            want[(p * oh + i) * ow + j] = s / ((y1 - y0) * (x1 - x0));
          }
        }
      }
      compare(`adaptiveAvgPool2d → ${size} ${dtype}`, on, [x], (be, [t]) => be.adaptiveAvgPool2d(t, size), {
        shape: [2, 3, oh, ow],
        values: want,
      }, dtype);
      for (const align of [false, true]) {
        compare(
          `resizeBilinear → ${size} align ${align} ${dtype}`,
          on,
          [x],
          (be, [t]) => be.resizeBilinear(t, size, align),
          {
            shape: [2, 3, oh, ow],
            values: bilinearRef(vx, shape, size, align),
          },
          dtype,
        );
      }
    }
    x.dispose();
  }
});
