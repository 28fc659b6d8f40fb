// Naive f64 references of the ops, written from the formulas (PyTorch semantics) and independent
// of both backends. Row-major shapes; every function returns the output values.
import { numel } from "../../core/tensor.ts";

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

/** Value of `x` (shape `shape`) at the broadcast position of output index coords. */
function at(x: Float64Array, shape: readonly number[], coords: readonly number[]): number {
  const st = strides(shape);
  let off = 0;
  for (let i = 0; i < shape.length; i++) {
    const c = coords[coords.length - shape.length + i];
    off += (shape[i] === 1 ? 0 : c) * st[i];
  }
  return x[off];
}

/** Coordinates of flat index `i` in `shape`. */
export function coordsOf(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return out;
}

/** Broadcast binary op over two shapes into `outShape`. */
export function binaryRef(
  f: (a: number, b: number) => number,
  a: Float64Array,
  aShape: readonly number[],
  b: Float64Array,
  bShape: readonly number[],
  outShape: readonly number[],
): Float64Array {
  const out = new Float64Array(numel(outShape));
  for (let i = 0; i < out.length; i++) {
    const c = coordsOf(i, outShape);
    out[i] = f(at(a, aShape, c), at(b, bShape, c));
  }
  return out;
}

/** erf by its Maclaurin series (|x| < 3) or continued fraction tail; |error| < 1e-13. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax, sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz), accurate for large |x|
  let f = ax, c = ax, d = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = 1 / d;
    c = ax + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Batched matmul with broadcast batch dims and optional transposes. */
export function matmulRef(
  a: Float64Array,
  aShape: readonly number[],
  b: Float64Array,
  bShape: readonly number[],
  transA: boolean,
  transB: boolean,
): { shape: number[]; values: Float64Array } {
  const m = transA ? aShape.at(-1)! : aShape.at(-2)!;
  const k = transA ? aShape.at(-2)! : aShape.at(-1)!;
  const n = transB ? bShape.at(-2)! : bShape.at(-1)!;
  const batchA = aShape.slice(0, -2), batchB = bShape.slice(0, -2);
  const nb = Math.max(batchA.length, batchB.length);
  const batch: number[] = [];
  for (let i = 0; i < nb; i++) {
    const da = batchA[batchA.length - nb + i] ?? 1, db = batchB[batchB.length - nb + i] ?? 1;
    batch.push(Math.max(da, db));
  }
  const out = new Float64Array(numel(batch) * m * n);
  const sa = strides(batchA), sb = strides(batchB);
  for (let bi = 0; bi < numel(batch); bi++) {
    const c = coordsOf(bi, batch);
    let offA = 0, offB = 0;
    for (let i = 0; i < batchA.length; i++) offA += (batchA[i] === 1 ? 0 : c[nb - batchA.length + i]) * sa[i];
    for (let i = 0; i < batchB.length; i++) offB += (batchB[i] === 1 ? 0 : c[nb - batchB.length + i]) * sb[i];
    offA *= m * k;
    offB *= k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = a[offA + (transA ? p * m + i : i * k + p)];
          const bv = b[offB + (transB ? j * k + p : p * n + j)];
          s += av * bv;
        }
        out[bi * m * n + i * n + j] = s;
      }
    }
  }
  return { shape: [...batch, m, n], values: out };
}

/** Applies `rowFn` to each row along `dim` (x viewed as [outer, dim, inner]) into a new array. */
export function alongDim(
  x: Float64Array,
  shape: readonly number[],
  dim: number,
  rowFn: (row: number[]) => number[],
): Float64Array {
  const outer = numel(shape.slice(0, dim)), size = shape[dim], inner = numel(shape.slice(dim + 1));
  const out = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const row: number[] = [];
      for (let j = 0; j < size; j++) row.push(x[(o * size + j) * inner + i]);
      const res = rowFn(row);
      for (let j = 0; j < size; j++) out[(o * size + j) * inner + i] = res[j];
    }
  }
  return out;
}

/** Direct NCHW conv2d from the definition. */
export function conv2dRef(
  x: Float64Array,
  xShape: readonly number[],
  w: Float64Array,
  wShape: readonly number[],
  bias: Float64Array | undefined,
  stride: [number, number],
  padding: [number, number],
  groups: number,
): { shape: number[]; values: Float64Array } {
  const [bn, cin, h, wd] = xShape;
  const [cout, cing, kh, kw] = wShape;
  const oh = Math.floor((h + 2 * padding[0] - kh) / stride[0]) + 1;
  const ow = Math.floor((wd + 2 * padding[1] - kw) / stride[1]) + 1;
  const out = new Float64Array(bn * cout * oh * ow);
  const coutg = cout / groups;
  for (let b = 0; b < bn; b++) {
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / coutg);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let s = bias ? bias[co] : 0;
          for (let ci = 0; ci < cing; ci++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const y = oy * stride[0] - padding[0] + ky, xx = ox * stride[1] - padding[1] + kx;
                if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
                s += x[((b * cin + g * cing + ci) * h + y) * wd + xx] * w[((co * cing + ci) * kh + ky) * kw + kx];
              }
            }
          }
          out[((b * cout + co) * oh + oy) * ow + ox] = s;
        }
      }
    }
  }
  return { shape: [bn, cout, oh, ow], values: out };
}
