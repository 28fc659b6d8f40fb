// The functional reference against formulas written out here independently: the focusing
// function, both kernel-trick orders, the causal prefix form against the naive quadratic causal
// form, causality by perturbation, and typed errors for bad input.
import { test } from "../../_harness.ts";
import { assert, assertClose, assertThrows } from "../../_assert.ts";
import { flattenAttention } from "../../../plugins/flatten/reference.ts";
import { ConfigError, ShapeError } from "../../../core/errors.ts";
import { randn } from "../../../core/random.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";

const EPS = 1e-6;

/** φ written from the paper's definition, one token at a time. */
function naiveFocus(x: Float32Array, rows: number, c: number, scale: Float32Array, p: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const y = Array.from({ length: c }, (_, i) => (Math.max(x[r * c + i], 0) + EPS) / Math.log(1 + Math.exp(scale[i])));
    const yp = y.map((v) => Math.pow(v, p));
    const ratio = Math.hypot(...y) / Math.hypot(...yp);
    out.push(yp.map((v) => v * ratio));
  }
  return out;
}

/**
 * Per head: out_i = Σ_{j ∈ visible(i)} (q_i·k_j) v_j / (Σ_{j ∈ visible(i)} q_i·k_j + |visible(i)|·eps),
 * which is the official (q kᵀv/n)/(q·mean(k) + eps) with the n factors multiplied through.
 */
function naiveAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  heads: number,
  p: number,
  scale: Float32Array,
  causal: boolean,
) {
  const [b, n, c] = q.shape;
  const m = k.shape[1];
  const d = c / heads;
  const qf = naiveFocus(q.toFloat32Array(), b * n, c, scale, p);
  const kf = naiveFocus(k.toFloat32Array(), b * m, c, scale, p);
  const vs = v.toFloat32Array();
  const out = new Float64Array(b * n * c);
  for (let bb = 0; bb < b; bb++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < n; i++) {
        const visible = causal ? i + 1 : m;
        let den = visible * EPS;
        const num = new Float64Array(d);
        for (let j = 0; j < visible; j++) {
          let s = 0;
          for (let e = 0; e < d; e++) s += qf[bb * n + i][h * d + e] * kf[bb * m + j][h * d + e];
          den += s;
          for (let e = 0; e < d; e++) num[e] += s * vs[(bb * m + j) * c + h * d + e];
        }
        for (let e = 0; e < d; e++) out[(bb * n + i) * c + h * d + e] = num[e] / den;
      }
    }
  }
  return out;
}

test("flatten reference: both kernel-trick orders equal the naive formula (N ≠ n, nonzero scale)", () => {
  const q = randn([2, 7, 12], { seed: 1 });
  const k = randn([2, 5, 12], { seed: 2 });
  const v = randn([2, 5, 12], { seed: 3 });
  const scale = randn([1, 1, 12], { seed: 4, std: 0.7 });
  const expected = naiveAttention(q, k, v, 3, 3, scale.toFloat32Array(), false);
  for (const order of ["kv", "qk", "auto"] as const) {
    const out = flattenAttention(q, k, v, { heads: 3, scale, order });
    assertClose(out.toFloat32Array(), expected, { rtol: 2e-6, atol: 1e-7 }, `order ${order}`);
  }
});

test("flatten reference: focusing powers 1, 2 and 5 follow the formula; norms span all heads", () => {
  const q = randn([1, 4, 8], { seed: 5 });
  const k = randn([1, 6, 8], { seed: 6 });
  const v = randn([1, 6, 8], { seed: 7 });
  for (const p of [1, 2, 5]) {
    const expected = naiveAttention(q, k, v, 2, p, new Float32Array(8), false);
    assertClose(flattenAttention(q, k, v, { heads: 2, focusingFactor: p }).toFloat32Array(), expected, {
      rtol: 2e-6,
      atol: 1e-7,
    }, `p ${p}`);
  }
  // the norms span all heads, so a key's head-1 channels rescale its head-0 part; per-head norms
  // (or q, whose per-token scale cancels against z) would leave head 0 untouched
  const bumped = k.toFloat32Array();
  bumped[4] += 3;
  const a = flattenAttention(q, k, v, { heads: 2 }).toFloat32Array();
  const b = flattenAttention(q, tensor(bumped, { shape: [1, 6, 8] }), v, { heads: 2 }).toFloat32Array();
  assert(Math.abs(a[0] - b[0]) > 1e-4, "head 0 must feel channel 4 (head 1) of key 0 through the norms");
});

test("flatten reference: causal prefix form equals the naive quadratic causal form", () => {
  const q = randn([2, 9, 8], { seed: 8 });
  const k = randn([2, 9, 8], { seed: 9 });
  const v = randn([2, 9, 8], { seed: 10 });
  const scale = randn([1, 1, 8], { seed: 11, std: 0.5 });
  const expected = naiveAttention(q, k, v, 2, 3, scale.toFloat32Array(), true);
  const out = flattenAttention(q, k, v, { heads: 2, scale, causal: true });
  assertClose(out.toFloat32Array(), expected, { rtol: 2e-6, atol: 1e-7 });
  // the last token sees everything: it must equal the official non-causal output there
  const full = flattenAttention(q, k, v, { heads: 2, scale }).toFloat32Array();
  const causal = out.toFloat32Array();
  for (const b of [0, 1]) {
    const at = (b * 9 + 8) * 8;
    assertClose(causal.subarray(at, at + 8), full.subarray(at, at + 8), { rtol: 1e-6, atol: 1e-7 }, `batch ${b}`);
  }
});

test("flatten reference: causal outputs before a perturbed token do not change, later ones do", () => {
  const q = randn([1, 8, 6], { seed: 12 });
  const k = randn([1, 8, 6], { seed: 13 });
  const v = randn([1, 8, 6], { seed: 14 });
  const base = flattenAttention(q, k, v, { heads: 2, causal: true }).toFloat32Array();
  const hit = 5;
  for (const which of ["q", "k", "v"]) {
    const bump = (t: Tensor, name: string) => {
      const values = t.toFloat32Array();
      if (name === which) { for (let c = 0; c < 6; c++) values[hit * 6 + c] += 1.5; }
      return tensor(values, { shape: t.shape });
    };
    const out = flattenAttention(bump(q, "q"), bump(k, "k"), bump(v, "v"), { heads: 2, causal: true }).toFloat32Array();
    assertClose(out.subarray(0, hit * 6), base.subarray(0, hit * 6), { rtol: 0, atol: 0 }, `${which} before`);
    let moved = 0;
    for (let i = hit * 6; i < out.length; i++) moved = Math.max(moved, Math.abs(out[i] - base[i]));
    assert(moved > 1e-3, `perturbing ${which} at token ${hit} must change token ${hit} and later (moved ${moved})`);
  }
});

test("flatten reference: bad shapes and options throw typed errors naming the op and shapes", () => {
  const q = randn([1, 4, 8]);
  const k = randn([1, 3, 8]);
  assertThrows(
    () => flattenAttention(q, k, randn([1, 3, 6]), { heads: 2 }),
    ShapeError,
    "flattenAttention",
    "[1, 3, 6]",
  );
  assertThrows(() => flattenAttention(q, k, randn([1, 2, 8]), { heads: 2 }), ShapeError, "[1, 2, 8]");
  assertThrows(() => flattenAttention(q, k, k, { heads: 3 }), ConfigError, "heads");
  assertThrows(() => flattenAttention(q, k, k, { heads: 2, causal: true }), ShapeError, "causal", "[1, 4, 8]");
  assertThrows(
    () => flattenAttention(q, k, k, { heads: 2, scale: randn([1, 1, 4]) }),
    ShapeError,
    "scale",
    "[1, 1, 4]",
  );
  assertThrows(() => flattenAttention(q, k, k, { heads: 2, focusingFactor: 0 }), ConfigError, "focusingFactor");
  assertThrows(() => flattenAttention(randn([4, 8]), k, k, { heads: 2 }), ShapeError, "[4, 8]");
});
