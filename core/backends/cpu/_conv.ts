// Convolutions: conv2d (NCHW) by im2col + gemm, a direct path for depthwise kernels, and the
// causal depthwise conv1d of linear-attention token mixers.
import type { Conv2dOptions } from "../../backend.ts";
import { ShapeError } from "../../errors.ts";
import { fmtShape, type Tensor } from "../../tensor.ts";
import { floatDType, output, readFloat, sameDType, shapes, sharedFloat32 } from "./_io.ts";
import { runGemm } from "./_worker_pool.ts";

function pair(op: string, name: string, value: number | readonly [number, number], min: number): [number, number] {
  const [a, b] = typeof value === "number" ? [value, value] : value;
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < min || b < min) {
    throw new ShapeError(op, `${name} must be integers ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return [a, b];
}

/** 2-D convolution of x [B, Cin, H, W] with weight [Cout, Cin/groups, kh, kw] and bias [Cout]. */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | undefined, options: Conv2dOptions = {}): Tensor {
  const dtype = sameDType("conv2d", x, weight, bias);
  floatDType("conv2d", x);
  const [sh, sw] = pair("conv2d", "stride", options.stride ?? 1, 1);
  const [ph, pw] = pair("conv2d", "padding", options.padding ?? 0, 0);
  const groups = options.groups ?? 1;
  const fail = (why: string): never => {
    throw new ShapeError(
      "conv2d",
      `${why}: input ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}` +
        (bias === undefined ? "" : `, bias ${fmtShape(bias.shape)}`) + `, groups ${groups}`,
    );
  };
  if (x.ndim !== 4 || weight.ndim !== 4) fail("input and weight must be 4-d");
  const [batch, cin, h, w] = x.shape;
  const [cout, cinGroup, kh, kw] = weight.shape;
  if (!Number.isInteger(groups) || groups < 1 || cin % groups !== 0 || cout % groups !== 0) {
    fail("groups must divide input and output channels");
  }
  if (cinGroup * groups !== cin) fail(`weight expects ${cinGroup * groups} input channels`);
  if (bias !== undefined && (bias.ndim !== 1 || bias.shape[0] !== cout)) fail(`bias must be [${cout}]`);
  const oh = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
  if (oh < 1 || ow < 1) fail("kernel is larger than the padded input");

  const input = readFloat("conv2d", x);
  const kernel = readFloat("conv2d", weight);
  const out = output([batch, cout, oh, ow], dtype);
  const geometry = { batch, h, w, kh, kw, sh, sw, ph, pw, oh, ow };
  if (groups === cin && cout === cin) depthwise(input, kernel, out.values, cin, geometry);
  else im2colGemm(input, kernel, out.values, cin, cout, groups, geometry);
  if (bias !== undefined) {
    const b = readFloat("conv2d", bias);
    const plane = oh * ow;
    for (let i = 0; i < out.values.length; i++) out.values[i] += b[Math.floor(i / plane) % cout];
  }
  return out.finish();
}

interface Geometry {
  batch: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  oh: number;
  ow: number;
}

// One output channel per input channel: direct sums, skipping taps that fall in the padding.
function depthwise(input: Float32Array, kernel: Float32Array, out: Float32Array, channels: number, g: Geometry): void {
  for (let plane = 0; plane < g.batch * channels; plane++) {
    const src = plane * g.h * g.w;
    const taps = (plane % channels) * g.kh * g.kw;
    const dst = plane * g.oh * g.ow;
    for (let oy = 0; oy < g.oh; oy++) {
      const y0 = oy * g.sh - g.ph;
      const kyStart = Math.max(0, -y0);
      const kyEnd = Math.min(g.kh, g.h - y0);
      for (let ox = 0; ox < g.ow; ox++) {
        const x0 = ox * g.sw - g.pw;
        const kxStart = Math.max(0, -x0);
        const kxEnd = Math.min(g.kw, g.w - x0);
        let total = 0;
        for (let ky = kyStart; ky < kyEnd; ky++) {
          const row = src + (y0 + ky) * g.w + x0;
          const taprow = taps + ky * g.kw;
          for (let kx = kxStart; kx < kxEnd; kx++) total += input[row + kx] * kernel[taprow + kx];
        }
        out[dst + oy * g.ow + ox] = total;
      }
    }
  }
}

// Per image: unfold patches into columns [groups, Cin/g·kh·kw, oh·ow], then W_g @ columns.
function im2colGemm(
  input: Float32Array,
  kernel: Float32Array,
  out: Float32Array,
  cin: number,
  cout: number,
  groups: number,
  g: Geometry,
): void {
  const pixels = g.oh * g.ow;
  const depth = (cin / groups) * g.kh * g.kw;
  const columns = sharedFloat32(cin * g.kh * g.kw * pixels);
  const aOffsets = Int32Array.from({ length: groups }, (_, i) => i * (cout / groups) * depth);
  const bOffsets = Int32Array.from({ length: groups }, (_, i) => i * depth * pixels);
  for (let image = 0; image < g.batch; image++) {
    let r = 0;
    for (let c = 0; c < cin; c++) {
      const src = (image * cin + c) * g.h * g.w;
      for (let ky = 0; ky < g.kh; ky++) {
        for (let kx = 0; kx < g.kw; kx++, r++) {
          const dst = r * pixels;
          for (let oy = 0; oy < g.oh; oy++) {
            const y = oy * g.sh - g.ph + ky;
            for (let ox = 0; ox < g.ow; ox++) {
              const x = ox * g.sw - g.pw + kx;
              const inside = y >= 0 && y < g.h && x >= 0 && x < g.w;
              columns[dst + oy * g.ow + ox] = inside ? input[src + y * g.w + x] : 0;
            }
          }
        }
      }
    }
    const c = out.subarray(image * cout * pixels, (image + 1) * cout * pixels);
    runGemm({
      a: kernel,
      b: columns,
      c,
      aOffsets,
      bOffsets,
      m: cout / groups,
      n: pixels,
      k: depth,
      transA: false,
      transB: false,
    });
  }
}

/** y[b, c, t] = bias[c] + Σ_j w[c, 0, j] · x[b, c, t − (K−1) + j], zero before the start. */
export function causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | undefined): Tensor {
  const dtype = sameDType("causalConv1d", x, weight, bias);
  floatDType("causalConv1d", x);
  const [, channels, n] = x.shape;
  const k = weight.shape[2];
  const ok = x.ndim === 3 && weight.ndim === 3 && weight.shape[0] === channels && weight.shape[1] === 1 &&
    (bias === undefined || (bias.ndim === 1 && bias.shape[0] === channels));
  if (!ok) {
    throw new ShapeError(
      "causalConv1d",
      `expects x [B, C, N], weight [C, 1, K], bias [C]; got ${shapes(x, weight, bias)}`,
    );
  }
  const input = readFloat("causalConv1d", x);
  const w = readFloat("causalConv1d", weight);
  const b = bias === undefined ? undefined : readFloat("causalConv1d", bias);
  const out = output(x.shape, dtype);
  for (let row = 0; row < x.size / Math.max(n, 1); row++) {
    const c = row % channels;
    const base = row * n;
    for (let t = 0; t < n; t++) {
      let total = b === undefined ? 0 : b[c];
      for (let j = Math.max(0, k - 1 - t); j < k; j++) total += w[c * k + j] * input[base + t - (k - 1) + j];
      out.values[base + t] = total;
    }
  }
  return out.finish();
}
