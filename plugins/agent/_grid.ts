// Plain-loop grid and token helpers of the CPU reference, in float64, following PyTorch's rules.
// Token arrays are token-major [tokens, C] (token t of an h×w grid is row t / w, column t % w);
// tables are planar [planes, h, w].

/** AdaptiveAvgPool2d of tokens [h·w, C] to [oh·ow, C]; bins start ⌊i·h/oh⌋, end ⌈(i+1)·h/oh⌉. */
export function adaptivePoolTokens(
  x: Float64Array,
  channels: number,
  h: number,
  w: number,
  oh: number,
  ow: number,
): Float64Array {
  const out = new Float64Array(oh * ow * channels);
  for (let i = 0; i < oh; i++) {
    const r0 = Math.floor((i * h) / oh);
    const r1 = Math.ceil(((i + 1) * h) / oh);
    for (let j = 0; j < ow; j++) {
      const c0 = Math.floor((j * w) / ow);
      const c1 = Math.ceil(((j + 1) * w) / ow);
      const count = (r1 - r0) * (c1 - c0);
      const dst = (i * ow + j) * channels;
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) {
          const src = (r * w + c) * channels;
          for (let ch = 0; ch < channels; ch++) out[dst + ch] += x[src + ch];
        }
      }
      for (let ch = 0; ch < channels; ch++) out[dst + ch] /= count;
    }
  }
  return out;
}

/** Source coordinate of output index `dst` (PyTorch's area_pixel_compute_source_index). */
function sourceIndex(dst: number, inSize: number, outSize: number, alignCorners: boolean): number {
  if (alignCorners) return outSize > 1 ? (dst * (inSize - 1)) / (outSize - 1) : 0;
  return Math.max(((dst + 0.5) * inSize) / outSize - 0.5, 0);
}

/** Bilinear resize of planar tables [planes, h, w] to [planes, oh, ow] (no antialiasing). */
export function resizeBilinearPlanes(
  x: Float64Array,
  planes: number,
  h: number,
  w: number,
  oh: number,
  ow: number,
  alignCorners = false,
): Float64Array {
  const out = new Float64Array(planes * oh * ow);
  for (let i = 0; i < oh; i++) {
    const sy = sourceIndex(i, h, oh, alignCorners);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, h - 1);
    const ly = sy - y0;
    for (let j = 0; j < ow; j++) {
      const sx = sourceIndex(j, w, ow, alignCorners);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, w - 1);
      const lx = sx - x0;
      for (let p = 0; p < planes; p++) {
        const base = p * h * w;
        out[(p * oh + i) * ow + j] = (1 - ly) * ((1 - lx) * x[base + y0 * w + x0] + lx * x[base + y0 * w + x1]) +
          ly * ((1 - lx) * x[base + y1 * w + x0] + lx * x[base + y1 * w + x1]);
      }
    }
  }
  return out;
}

/** Bilinear resize of tokens [h·w, C] to [oh·ow, C] (align_corners false), via planes. */
export function resizeBilinearTokens(
  x: Float64Array,
  channels: number,
  h: number,
  w: number,
  oh: number,
  ow: number,
): Float64Array {
  const planes = transposeTokens(x, h * w, channels);
  return transposeTokens(resizeBilinearPlanes(planes, channels, h, w, oh, ow), channels, oh * ow);
}

/** [rows, cols] → [cols, rows]. */
export function transposeTokens(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  }
  return out;
}

/** Depthwise k×k convolution of tokens [h·w, C], zero padding k/2, weight [C, 1, k, k], bias [C]. */
export function depthwiseConvTokens(
  x: Float64Array,
  channels: number,
  h: number,
  w: number,
  weight: Float64Array,
  bias: Float64Array,
  kernel: number,
): Float64Array {
  const pad = Math.floor(kernel / 2);
  const out = new Float64Array(h * w * channels);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      for (let ch = 0; ch < channels; ch++) {
        let acc = bias[ch];
        for (let u = 0; u < kernel; u++) {
          const r = i + u - pad;
          if (r < 0 || r >= h) continue;
          for (let s = 0; s < kernel; s++) {
            const c = j + s - pad;
            if (c < 0 || c >= w) continue;
            acc += weight[(ch * kernel + u) * kernel + s] * x[(r * w + c) * channels + ch];
          }
        }
        out[(i * w + j) * channels + ch] = acc;
      }
    }
  }
  return out;
}

/** Dense convolution with kernel = stride = `r` (PVT's spatial reduction), tokens [h·w, C] → [(h/r)·(w/r), C]. */
export function patchConvTokens(
  x: Float64Array,
  channels: number,
  h: number,
  w: number,
  weight: Float64Array,
  bias: Float64Array,
  r: number,
): Float64Array {
  const oh = Math.floor(h / r);
  const ow = Math.floor(w / r);
  const out = new Float64Array(oh * ow * channels);
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      for (let co = 0; co < channels; co++) {
        let acc = bias[co];
        for (let ci = 0; ci < channels; ci++) {
          for (let u = 0; u < r; u++) {
            for (let s = 0; s < r; s++) {
              acc += weight[((co * channels + ci) * r + u) * r + s] * x[((i * r + u) * w + j * r + s) * channels + ci];
            }
          }
        }
        out[(i * ow + j) * channels + co] = acc;
      }
    }
  }
  return out;
}

/** y = x Wᵀ + b for rows x [n, cin], W [cout, cin], b [cout] (optional). */
export function linearRows(
  x: Float64Array,
  rows: number,
  cin: number,
  weight: Float64Array,
  bias: Float64Array | undefined,
  cout: number,
): Float64Array {
  const out = new Float64Array(rows * cout);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < cout; o++) {
      let acc = bias === undefined ? 0 : bias[o];
      for (let i = 0; i < cin; i++) acc += x[r * cin + i] * weight[o * cin + i];
      out[r * cout + o] = acc;
    }
  }
  return out;
}

/** LayerNorm over the last dim of rows [n, C] with weight and bias. */
export function layerNormRows(
  x: Float64Array,
  rows: number,
  channels: number,
  weight: Float64Array,
  bias: Float64Array,
  eps: number,
): Float64Array {
  const out = new Float64Array(rows * channels);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < channels; c++) mean += x[r * channels + c];
    mean /= channels;
    let variance = 0;
    for (let c = 0; c < channels; c++) variance += (x[r * channels + c] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / channels + eps);
    for (let c = 0; c < channels; c++) {
      out[r * channels + c] = (x[r * channels + c] - mean) * inv * weight[c] + bias[c];
    }
  }
  return out;
}

/** In-place softmax of `n` entries of `x` from `offset`. */
export function softmaxInPlace(x: Float64Array, offset: number, n: number): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[offset + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[offset + i] - max);
    x[offset + i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) x[offset + i] /= sum;
}
