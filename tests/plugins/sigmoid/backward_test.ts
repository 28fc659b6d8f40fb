// Every gradient of sigmoid attention (q, k, v, QK-norm weights and biases) against central finite
// differences of the loss ⟨O, G⟩ in f64, over causal / ALiBi / GQA / Nq ≠ Nk / QK-norm variants.
import { Rng } from "../../../core/random.ts";
import { tensor } from "../../../core/tensor.ts";
import { attentionBackwardF64, attentionF64, type QkNormF64 } from "../../../plugins/sigmoid/_attention_f64.ts";
import type { AttentionGeometry as Geometry } from "../../../core/nn/mod.ts";
import type { SigmoidMath } from "../../../plugins/sigmoid/_kernel.ts";
import { sigmoidAttentionBackward } from "../../../plugins/sigmoid/mod.ts";
import { assertClose } from "../../_assert.ts";
import { test } from "../../_harness.ts";

function random(n: number, rng: Rng, mean = 0, std = 1): Float64Array {
  return Float64Array.from({ length: n }, () => mean + std * rng.normal());
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

interface Variant {
  name: string;
  g: Geometry;
  causal: boolean;
  alibi: boolean;
  norm?: "rms" | "layer";
}

const variants: Variant[] = [
  { name: "plain MHA", g: { batch: 1, heads: 2, kvHeads: 2, nq: 4, nk: 4, d: 3, e: 3 }, causal: false, alibi: false },
  { name: "causal ALiBi", g: { batch: 2, heads: 2, kvHeads: 2, nq: 5, nk: 5, d: 3, e: 2 }, causal: true, alibi: true },
  {
    name: "GQA Nq < Nk causal",
    g: { batch: 1, heads: 4, kvHeads: 2, nq: 3, nk: 5, d: 3, e: 3 },
    causal: true,
    alibi: true,
  },
  {
    name: "MQA Nq > Nk causal",
    g: { batch: 1, heads: 2, kvHeads: 1, nq: 5, nk: 3, d: 2, e: 3 },
    causal: true,
    alibi: false,
  },
  {
    name: "non-causal ALiBi Nq ≠ Nk",
    g: { batch: 1, heads: 2, kvHeads: 1, nq: 3, nk: 4, d: 3, e: 2 },
    causal: false,
    alibi: true,
  },
  {
    name: "QK-RMSNorm GQA causal ALiBi",
    g: { batch: 1, heads: 4, kvHeads: 2, nq: 4, nk: 4, d: 4, e: 3 },
    causal: true,
    alibi: true,
    norm: "rms",
  },
  {
    name: "QK-LayerNorm Nq ≠ Nk",
    g: { batch: 1, heads: 2, kvHeads: 2, nq: 3, nk: 5, d: 4, e: 2 },
    causal: false,
    alibi: false,
    norm: "layer",
  },
];

for (const variant of variants) {
  test(`sigmoid backward = central finite differences: ${variant.name}`, () => {
    const { g } = variant;
    const rng = new Rng(variant.name.length * 7 + 3);
    const inputs: Record<string, Float64Array> = {
      q: random(g.batch * g.heads * g.nq * g.d, rng),
      k: random(g.batch * g.kvHeads * g.nk * g.d, rng),
      v: random(g.batch * g.kvHeads * g.nk * g.e, rng),
    };
    const m: SigmoidMath = {
      scale: 0.8,
      bias: -0.7,
      causal: variant.causal,
      slopes: variant.alibi ? random(g.batch * g.heads, rng, 0.3, 0.1) : undefined,
    };
    if (variant.norm !== undefined) {
      inputs.qw = random(g.d, rng, 1, 0.3);
      inputs.kw = random(g.d, rng, 1, 0.3);
      if (variant.norm === "layer") {
        inputs.qb = random(g.d, rng, 0, 0.3);
        inputs.kb = random(g.d, rng, 0, 0.3);
      }
    }
    const norm = (): QkNormF64 | undefined =>
      variant.norm === undefined ? undefined : {
        q: { kind: variant.norm, weight: inputs.qw, bias: inputs.qb, eps: 1e-5 },
        k: { kind: variant.norm, weight: inputs.kw, bias: inputs.kb, eps: 1e-5 },
      };
    const G = random(g.batch * g.heads * g.nq * g.e, rng);
    const loss = () => dot(attentionF64(g, inputs.q, inputs.k, inputs.v, m, norm()), G);
    const grads = attentionBackwardF64(g, inputs.q, inputs.k, inputs.v, G, m, norm());
    const analytic: Record<string, Float64Array | undefined> = {
      q: grads.dq,
      k: grads.dk,
      v: grads.dv,
      qw: grads.dqNormWeight,
      kw: grads.dkNormWeight,
      qb: grads.dqNormBias,
      kb: grads.dkNormBias,
    };
    const h = 1e-5;
    for (const [name, x] of Object.entries(inputs)) {
      const numeric = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const saved = x[i];
        x[i] = saved + h;
        const up = loss();
        x[i] = saved - h;
        const down = loss();
        x[i] = saved;
        numeric[i] = (up - down) / (2 * h);
      }
      const a = analytic[name];
      if (a === undefined) throw new Error(`no analytic gradient for ${name}`);
      assertClose(a, numeric, { rtol: 1e-6, atol: 1e-8 }, `d${name}`);
    }
  });
}

test("sigmoid backward: the Tensor API returns the f64 gradients rounded to f32", () => {
  const g: Geometry = { batch: 1, heads: 2, kvHeads: 1, nq: 3, nk: 4, d: 4, e: 4 };
  const rng = new Rng(99);
  const [q, k, v, dOut] = [g.heads * g.nq * g.d, g.nk * g.d, g.nk * g.e, g.heads * g.nq * g.e].map((n) =>
    random(n, rng)
  );
  const qw = random(g.d, rng, 1, 0.2);
  const kw = random(g.d, rng, 1, 0.2);
  // f32-representable inputs so both paths see identical values
  for (const a of [q, k, v, dOut, qw, kw]) for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i]);
  const t = (a: Float64Array, shape: number[]) => tensor(a, { shape });
  const slopes = Float32Array.of(0.25, 0.5);
  const grads = sigmoidAttentionBackward(
    t(q, [1, 2, 3, 4]),
    t(k, [1, 1, 4, 4]),
    t(v, [1, 1, 4, 4]),
    t(dOut, [1, 2, 3, 4]),
    { bias: -1, causal: true, alibiSlopes: slopes, qkNorm: { kind: "rms", qWeight: t(qw, [4]), kWeight: t(kw, [4]) } },
  );
  const m: SigmoidMath = { scale: 0.5, bias: -1, causal: true, slopes: Float64Array.from(slopes) };
  const norm: QkNormF64 = {
    q: { kind: "rms", weight: qw, bias: undefined, eps: 1e-6 },
    k: { kind: "rms", weight: kw, bias: undefined, eps: 1e-6 },
  };
  const f64 = attentionBackwardF64(g, q, k, v, dOut, m, norm);
  assertClose(grads.dq.toFloat32Array(), f64.dq, { rtol: 1e-6, atol: 1e-7 }, "dq");
  assertClose(grads.dk.toFloat32Array(), f64.dk, { rtol: 1e-6, atol: 1e-7 }, "dk");
  assertClose(grads.dv.toFloat32Array(), f64.dv, { rtol: 1e-6, atol: 1e-7 }, "dv");
  assertClose(grads.dqNormWeight!.toFloat32Array(), f64.dqNormWeight!, { rtol: 1e-6, atol: 1e-7 }, "dqNormWeight");
  assertClose(grads.dkNormWeight!.toFloat32Array(), f64.dkNormWeight!, { rtol: 1e-6, atol: 1e-7 }, "dkNormWeight");
});
