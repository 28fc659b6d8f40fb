// Sigmoid attention with optional QK-norm, end to end in f64: the math behind the Tensor API,
// kept separate so gradient checks can run it without f32 rounding.
import type { AttentionGeometry } from "../../core/nn/mod.ts";
import { sigmoidBackwardF64, sigmoidForwardF64, type SigmoidMath } from "./_kernel.ts";
import { type NormParams, normRows, normRowsBackward } from "./_qk_norm.ts";

/** QK-norm parameters for q and k. */
export interface QkNormF64 {
  q: NormParams;
  k: NormParams;
}

/** Forward: normalise q and k rows (when `norm` is given), then O = σ(S) V. */
export function attentionF64(
  g: AttentionGeometry,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  m: SigmoidMath,
  norm: QkNormF64 | undefined,
): Float64Array {
  const qn = norm === undefined ? q : normRows(q, g.d, norm.q).y;
  const kn = norm === undefined ? k : normRows(k, g.d, norm.k).y;
  return sigmoidForwardF64(g, qn, kn, v, m);
}

/** Every gradient of {@link attentionF64}; the norm ones only when QK-norm is on. */
export interface AttentionGradsF64 {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
  dqNormWeight?: Float64Array;
  dkNormWeight?: Float64Array;
  dqNormBias?: Float64Array;
  dkNormBias?: Float64Array;
}

/** Backward of {@link attentionF64} for the output gradient `dOut`. */
export function attentionBackwardF64(
  g: AttentionGeometry,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dOut: Float64Array,
  m: SigmoidMath,
  norm: QkNormF64 | undefined,
): AttentionGradsF64 {
  if (norm === undefined) return sigmoidBackwardF64(g, q, k, v, dOut, m);
  const qRows = normRows(q, g.d, norm.q);
  const kRows = normRows(k, g.d, norm.k);
  const inner = sigmoidBackwardF64(g, qRows.y, kRows.y, v, dOut, m);
  const qGrads = normRowsBackward(inner.dq, qRows, g.d, norm.q);
  const kGrads = normRowsBackward(inner.dk, kRows, g.d, norm.k);
  const grads: AttentionGradsF64 = {
    dq: qGrads.dx,
    dk: kGrads.dx,
    dv: inner.dv,
    dqNormWeight: qGrads.dWeight,
    dkNormWeight: kGrads.dWeight,
  };
  if (qGrads.dBias !== undefined) grads.dqNormBias = qGrads.dBias;
  if (kGrads.dBias !== undefined) grads.dkNormBias = kGrads.dBias;
  return grads;
}
