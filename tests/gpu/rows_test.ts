// Row ops on CUDA and the CPU backend: softmax along every dim, sum/mean (keepdim or not), layer
// norm and RMS norm (with and without weights) against f64 references on widths that are no
// multiple of a warp.
import { test } from "../_harness.ts";
import { alongDim } from "./_reference.ts";
import { compare, sample, targets, values } from "./_setup.ts";

const DTYPES = ["f32", "bf16", "f16"] as const;

function softmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

// CUDA holds rows of up to 1024 in one warp (16-byte packs when the width allows: 8, 256, 1024;
// one element per lane otherwise: 37, 197, 1023) and gives longer rows a block (1029).
test("softmax along each dim (rows, strided, width 1 and 1000+)", () => {
  const on = targets("softmax");
  if (on.length === 0) return;
  for (const dtype of DTYPES) {
    for (
      const [shape, dim] of [
        [[3, 5, 37], -1],
        [[3, 5, 37], 1],
        [[3, 5, 37], 0],
        [[2, 1], 1],
        [[4, 1029], 1],
        [[7, 8], 1],
        [[5, 197], 1],
        [
          [3, 256],
          1,
        ],
        [[3, 1024], 1],
        [[2, 1023], 1],
      ] as [
        number[],
        number,
      ][]
    ) {
      const x = sample(shape, dtype, 11, 3);
      const [vx] = values(x);
      const d = dim < 0 ? dim + shape.length : dim;
      compare(`softmax ${shape} dim ${dim} ${dtype}`, on, [x], (be, [t]) => be.softmax(t, dim), {
        shape,
        values: alongDim(vx, shape, d, softmaxRow),
      }, dtype);
      x.dispose();
    }
  }
});

test("sum and mean along a dim, keepdim or not", () => {
  const on = targets("reduce");
  if (on.length === 0) return;
  for (const dtype of DTYPES) {
    const shape = [3, 67, 5];
    const x = sample(shape, dtype, 12);
    const [vx] = values(x);
    for (const dim of [0, 1, 2, -1]) {
      const d = dim < 0 ? dim + 3 : dim;
      const sums = alongDim(vx, shape, d, (row) => row.map(() => row.reduce((a, b) => a + b, 0)));
      // keep one entry per reduced row: index 0 along d
      const picked: number[] = [];
      for (let i = 0; i < vx.length; i++) {
        const coord = Math.floor(i / shape.slice(d + 1).reduce((a, b) => a * b, 1)) % shape[d];
        if (coord === 0) picked.push(sums[i]);
      }
      const keep = shape.map((s, i) => (i === d ? 1 : s));
      const drop = shape.filter((_, i) => i !== d);
      compare(
        `sum dim ${dim} ${dtype}`,
        on,
        [x],
        (be, [t]) => be.sum(t, dim),
        { shape: drop, values: picked },
        dtype,
        10,
      );
      compare(`mean dim ${dim} keepdim ${dtype}`, on, [x], (be, [t]) => be.mean(t, dim, true), {
        shape: keep,
        values: picked.map((v) => v / shape[d]),
      }, dtype);
    }
    x.dispose();
  }
});

// CUDA holds rows of up to 2048 in one warp (16-byte packs when the width allows: 384, 1000,
// 2048; one element per lane up to 1024 otherwise: 45, 769) and gives other rows a block (1030,
// 2056); six rows leave the last block of four rows half empty.
test("layer norm and RMS norm (with/without weight and bias) over odd widths", () => {
  const on = targets("norms");
  if (on.length === 0) return;
  for (const dtype of DTYPES) {
    for (const width of [1, 45, 769, 384, 1000, 2048, 1030, 2056]) {
      const shape = [2, 3, width];
      const x = sample(shape, dtype, 13, 2);
      const w = sample([width], dtype, 14);
      const b = sample([width], dtype, 15);
      const [vx, vw, vb] = values(x, w, b);
      const eps = 1e-5;
      const ln = (withAffine: boolean) =>
        alongDim(vx, shape, 2, (row) => {
          const mean = row.reduce((a, c) => a + c, 0) / width;
          const variance = row.reduce((a, c) => a + (c - mean) ** 2, 0) / width;
          return row.map((v, j) => {
            const y = (v - mean) / Math.sqrt(variance + eps);
            return withAffine ? y * vw[j] + vb[j] : y;
          });
        });
      const rms = (withWeight: boolean) =>
        alongDim(vx, shape, 2, (row) => {
          const r = 1 / Math.sqrt(row.reduce((a, c) => a + c * c, 0) / width + eps);
          return row.map((v, j) => v * r * (withWeight ? vw[j] : 1));
        });
      compare(
        `layerNorm ${width} ${dtype}`,
        on,
        [x, w, b],
        (be, [t, tw, tb]) => be.layerNorm(t, tw, tb, eps),
        {
          shape,
          values: ln(true),
        },
        dtype,
        4,
      );
      compare(
        `layerNorm plain ${width} ${dtype}`,
        on,
        [x],
        (be, [t]) => be.layerNorm(t, undefined, undefined, eps),
        {
          shape,
          values: ln(false),
        },
        dtype,
        4,
      );
      compare(
        `rmsNorm ${width} ${dtype}`,
        on,
        [x, w],
        (be, [t, tw]) => be.rmsNorm(t, tw, eps),
        {
          shape,
          values: rms(true),
        },
        dtype,
        4,
      );
      compare(
        `SRMS ${width} ${dtype}`,
        on,
        [x],
        (be, [t]) => be.rmsNorm(t, undefined, eps),
        {
          shape,
          values: rms(false),
        },
        dtype,
        4,
      );
      for (const t of [x, w, b]) t.dispose();
    }
  }
});
