import { ShapeError } from "../../core/errors.ts";
import { adaptiveAvgPool2d, resizeBilinear } from "../../core/ops.ts";
import { tensor } from "../../core/tensor.ts";
import { assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { random } from "./_reference.ts";

const row = (values: number[]) => tensor(values, { shape: [1, 1, 1, values.length] });

test("cpu adaptiveAvgPool2d: 7→3 uses overlapping bins [0,3) [2,5) [4,7)", () => {
  using x = row([1, 2, 4, 8, 16, 32, 64]);
  using y = adaptiveAvgPool2d(x, [1, 3]);
  assertClose(y.toTypedArray(), [7 / 3, 28 / 3, 112 / 3], { rtol: 1e-6, atol: 0 });
});

test("cpu adaptiveAvgPool2d: 5→7 upsampling bins and 14→7 pairs, in 2-D", () => {
  using up = row([1, 2, 4, 8, 16]);
  using y = adaptiveAvgPool2d(up, [1, 7]);
  // bins [0,1) [0,2) [1,3) [2,3) [2,4) [3,5) [4,5)
  assertClose(y.toTypedArray(), [1, 1.5, 3, 4, 6, 12, 16], { rtol: 1e-6, atol: 0 });
  using x = random([2, 3, 14, 14], 1);
  using z = adaptiveAvgPool2d(x, [7, 7]);
  const xv = x.toTypedArray();
  const expected: number[] = [];
  for (let p = 0; p < 6; p++) {
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 7; j++) {
        const at = (a: number, b: number) => xv[p * 196 + (2 * i + a) * 14 + 2 * j + b];
        expected.push((at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4);
      }
    }
  }
  assertClose(z.toTypedArray(), expected, { rtol: 1e-6, atol: 1e-7 });
  using square = random([1, 2, 7, 5], 2);
  using pooled = adaptiveAvgPool2d(square, [3, 7]);
  assertEquals(pooled.shape, [1, 2, 3, 7]);
  const sv = square.toTypedArray();
  // cell (1, 2): rows [2, 5), cols [1, 3) of channel 1
  let s = 0;
  for (let r = 2; r < 5; r++) for (let c = 1; c < 3; c++) s += sv[35 + r * 5 + c];
  assertClose([pooled.toTypedArray()[21 + 7 + 2]], [s / 6], { rtol: 1e-6, atol: 1e-7 });
});

const squares = (n: number) => Array.from({ length: n }, (_, i) => i * i);

test("cpu resizeBilinear: hand-computed values of PyTorch's index rule, 1-D", () => {
  using x7 = row(squares(7));
  using a = resizeBilinear(x7, [1, 10]); // scale 0.7, src = (d + 0.5)·0.7 − 0.5
  const av = a.toTypedArray();
  assertClose([av[0], av[1], av[5], av[9]], [0, 0.55, 11.45, 36], { rtol: 1e-6, atol: 1e-6 });
  using b = resizeBilinear(x7, [1, 10], true); // src = d·6/9
  const bv = b.toTypedArray();
  assertClose([bv[0], bv[1], bv[5], bv[9]], [0, 2 / 3, 34 / 3, 36], { rtol: 1e-6, atol: 1e-6 });
  using c = resizeBilinear(x7, [1, 14]); // src = d/2 − 0.25
  const cv = c.toTypedArray();
  assertClose([cv[0], cv[1], cv[2], cv[13]], [0, 0.25, 0.75, 36], {
    rtol: 1e-6,
    atol: 1e-6,
  });
  using d = resizeBilinear(x7, [1, 14], true); // src = d·6/13
  assertClose([d.toTypedArray()[1]], [(7 / 13) * 0 + (6 / 13) * 1], { rtol: 1e-6, atol: 1e-7 });
  using x14 = row(squares(14));
  using e = resizeBilinear(x14, [1, 7]); // src = 2d + 0.5: the mean of a pair (no antialias)
  assertClose(e.toTypedArray(), [0.5, 6.5, 20.5, 42.5, 72.5, 110.5, 156.5], { rtol: 1e-6, atol: 1e-6 });
  using f = resizeBilinear(x14, [1, 7], true); // src = d·13/6
  assertClose([f.toTypedArray()[1], f.toTypedArray()[6]], [4 * (5 / 6) + 9 * (1 / 6), 169], { rtol: 1e-6, atol: 1e-5 });
});

// Separable reference: 1-D interpolation weights per axis, written from the formula.
function weights(inSize: number, outSize: number, align: boolean): [number, number, number][] {
  return Array.from({ length: outSize }, (_, d) => {
    let src = align ? (outSize === 1 ? 0 : (d * (inSize - 1)) / (outSize - 1)) : ((d + 0.5) * inSize) / outSize - 0.5;
    if (src < 0) src = 0;
    const i0 = Math.floor(src);
    return [i0, Math.min(i0 + 1, inSize - 1), src - i0];
  });
}

test("cpu resizeBilinear: 2-D 7→10, 7→14, 14→7 with both align_corners values", () => {
  for (const [inSize, outSize] of [[7, 10], [7, 14], [14, 7]]) {
    for (const align of [false, true]) {
      using x = random([2, 2, inSize, inSize - 1], inSize + outSize);
      using y = resizeBilinear(x, [outSize, outSize + 1], align);
      assertEquals(y.shape, [2, 2, outSize, outSize + 1]);
      const wy = weights(inSize, outSize, align);
      const wx = weights(inSize - 1, outSize + 1, align);
      const xv = x.toTypedArray();
      const expected: number[] = [];
      for (let p = 0; p < 4; p++) {
        for (const [y0, y1, fy] of wy) {
          for (const [x0, x1, fx] of wx) {
            const at = (r: number, c: number) => xv[(p * inSize + r) * (inSize - 1) + c];
            expected.push(
              (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1)),
            );
          }
        }
      }
      assertClose(y.toTypedArray(), expected, { rtol: 1e-5, atol: 1e-6 }, `${inSize}→${outSize} align ${align}`);
    }
  }
});

test("cpu pooling/resize: wrong ranks and sizes throw naming op and shapes", () => {
  using x = random([2, 3, 4], 1);
  assertThrows(() => adaptiveAvgPool2d(x, [2, 2]), ShapeError, "adaptiveAvgPool2d", "[2, 3, 4]", "[2, 2]");
  using y = random([1, 1, 4, 4], 2);
  assertThrows(() => resizeBilinear(y, [0, 3]), ShapeError, "resizeBilinear", "[1, 1, 4, 4]", "[0, 3]");
});
