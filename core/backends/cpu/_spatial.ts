// Spatial resampling of [B, C, H, W]: adaptive average pooling and bilinear resize, both with
// PyTorch's index rules.
import { ShapeError } from "../../errors.ts";
import { fmtShape, type Tensor } from "../../tensor.ts";
import { floatDType, output, readFloat } from "./_io.ts";

function checkSpatial(op: string, x: Tensor, size: readonly [number, number]): void {
  floatDType(op, x);
  const valid = size.length === 2 && size.every((s) => Number.isInteger(s) && s >= 1);
  if (x.ndim !== 4 || !valid || x.shape[2] < 1 || x.shape[3] < 1) {
    throw new ShapeError(
      op,
      `expects [B, C, H, W] and an output size of two positive integers; got input ` +
        `${fmtShape(x.shape)}, output size [${size.join(", ")}]`,
    );
  }
}

/** Mean over bins [⌊i·H/p⌋, ⌈(i+1)·H/p⌉) per output cell; bins may overlap. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: readonly [number, number]): Tensor {
  checkSpatial("adaptiveAvgPool2d", x, outputSize);
  const [batch, channels, h, w] = x.shape;
  const [oh, ow] = outputSize;
  const input = readFloat("adaptiveAvgPool2d", x);
  const out = output([batch, channels, oh, ow], x.dtype);
  for (let plane = 0; plane < batch * channels; plane++) {
    for (let i = 0; i < oh; i++) {
      const y0 = Math.floor((i * h) / oh);
      const y1 = Math.ceil(((i + 1) * h) / oh);
      for (let j = 0; j < ow; j++) {
        const x0 = Math.floor((j * w) / ow);
        const x1 = Math.ceil(((j + 1) * w) / ow);
        let total = 0;
        for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) total += input[(plane * h + y) * w + xx];
        out.values[(plane * oh + i) * ow + j] = total / ((y1 - y0) * (x1 - x0));
      }
    }
  }
  return out.finish();
}

// For each output index: the two source indices and the weight of the second.
function sourceIndices(inSize: number, outSize: number, alignCorners: boolean): [Int32Array, Int32Array, Float64Array] {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  const scale = alignCorners ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : inSize / outSize;
  for (let d = 0; d < outSize; d++) {
    const src = alignCorners ? d * scale : Math.max((d + 0.5) * scale - 0.5, 0);
    lo[d] = Math.min(Math.floor(src), inSize - 1);
    hi[d] = Math.min(lo[d] + 1, inSize - 1);
    frac[d] = src - lo[d];
  }
  return [lo, hi, frac];
}

/** Bilinear interpolation (no antialiasing) to `outputSize`. */
export function resizeBilinear(x: Tensor, outputSize: readonly [number, number], alignCorners = false): Tensor {
  checkSpatial("resizeBilinear", x, outputSize);
  const [batch, channels, h, w] = x.shape;
  const [oh, ow] = outputSize;
  const [y0, y1, fy] = sourceIndices(h, oh, alignCorners);
  const [x0, x1, fx] = sourceIndices(w, ow, alignCorners);
  const input = readFloat("resizeBilinear", x);
  const out = output([batch, channels, oh, ow], x.dtype);
  for (let plane = 0; plane < batch * channels; plane++) {
    const src = plane * h * w;
    for (let i = 0; i < oh; i++) {
      const top = src + y0[i] * w;
      const bottom = src + y1[i] * w;
      for (let j = 0; j < ow; j++) {
        const upper = input[top + x0[j]] * (1 - fx[j]) + input[top + x1[j]] * fx[j];
        const lower = input[bottom + x0[j]] * (1 - fx[j]) + input[bottom + x1[j]] * fx[j];
        out.values[(plane * oh + i) * ow + j] = upper * (1 - fy[i]) + lower * fy[i];
      }
    }
  }
  return out.finish();
}
