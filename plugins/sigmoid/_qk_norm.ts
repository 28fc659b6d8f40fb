// QK-norm in f64: RMSNorm or LayerNorm over the head dim of each row, learnable weight (and bias
// for LayerNorm), with its exact backward.

/** Which normalisation QK-norm applies: RMSNorm or LayerNorm. */
export type QkNormKind = "rms" | "layer";

/** One norm's parameters, as f64. */
export interface NormParams {
  kind: QkNormKind;
  weight: Float64Array;
  /** LayerNorm only. */
  bias: Float64Array | undefined;
  eps: number;
}

/** Forward results kept for the backward: normalised rows before the affine part, 1/σ per row. */
export interface NormedRows {
  y: Float64Array;
  xhat: Float64Array;
  rstd: Float64Array;
}

/** Normalises each row of length d of `x`. */
export function normRows(x: Float64Array, d: number, p: NormParams): NormedRows {
  const rows = x.length / d;
  const y = new Float64Array(x.length);
  const xhat = new Float64Array(x.length);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mean = 0;
    if (p.kind === "layer") {
      for (let c = 0; c < d; c++) mean += x[o + c];
      mean /= d;
    }
    let sq = 0;
    for (let c = 0; c < d; c++) sq += (x[o + c] - mean) ** 2;
    const inv = 1 / Math.sqrt(sq / d + p.eps);
    rstd[r] = inv;
    for (let c = 0; c < d; c++) {
      xhat[o + c] = (x[o + c] - mean) * inv;
      y[o + c] = xhat[o + c] * p.weight[c] + (p.bias === undefined ? 0 : p.bias[c]);
    }
  }
  return { y, xhat, rstd };
}

/** Gradients of a row norm: input, weight, and (LayerNorm) bias. */
export interface NormGrads {
  dx: Float64Array;
  dWeight: Float64Array;
  dBias: Float64Array | undefined;
}

/** Backward of {@link normRows}: dy → dx, dWeight (summed over rows), dBias. */
export function normRowsBackward(dy: Float64Array, rows: NormedRows, d: number, p: NormParams): NormGrads {
  const n = dy.length / d;
  const dx = new Float64Array(dy.length);
  const dWeight = new Float64Array(d);
  const dBias = p.kind === "layer" ? new Float64Array(d) : undefined;
  const gx = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    const o = r * d;
    let meanG = 0;
    let meanGX = 0;
    for (let c = 0; c < d; c++) {
      dWeight[c] += dy[o + c] * rows.xhat[o + c];
      if (dBias !== undefined) dBias[c] += dy[o + c];
      gx[c] = dy[o + c] * p.weight[c];
      meanG += gx[c];
      meanGX += gx[c] * rows.xhat[o + c];
    }
    meanG = p.kind === "layer" ? meanG / d : 0; // RMSNorm subtracts no mean
    meanGX /= d;
    for (let c = 0; c < d; c++) dx[o + c] = rows.rstd[r] * (gx[c] - meanG - rows.xhat[o + c] * meanGX);
  }
  return { dx, dWeight, dBias };
}
