// Gradients of softmax attention against central finite differences of ⟨O, G⟩ in f64, over
// causal / ALiBi / GQA / Nq ≠ Nk (with fully masked rows) variants.
import { Rng } from "../../../core/random.ts";
import type { AttentionGeometry as Geometry } from "../../../core/nn/mod.ts";
import { softmaxBackwardF64, softmaxForwardF64, type SoftmaxMath } from "../../../plugins/softmax/_kernel.ts";
import { assertClose } from "../../_assert.ts";
import { test } from "../../_harness.ts";

function random(n: number, rng: Rng, mean = 0, std = 1): Float64Array {
  return Float64Array.from({ length: n }, () => mean + std * rng.normal());
}

const variants: { name: string; g: Geometry; causal: boolean; alibi: boolean }[] = [
  { name: "plain MHA", g: { batch: 1, heads: 2, kvHeads: 2, nq: 4, nk: 4, d: 3, e: 3 }, causal: false, alibi: false },
  { name: "causal ALiBi", g: { batch: 2, heads: 2, kvHeads: 2, nq: 5, nk: 5, d: 3, e: 2 }, causal: true, alibi: true },
  {
    name: "GQA Nq < Nk causal",
    g: { batch: 1, heads: 4, kvHeads: 2, nq: 3, nk: 5, d: 3, e: 3 },
    causal: true,
    alibi: true,
  },
  {
    name: "MQA Nq > Nk causal (masked rows)",
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
];

for (const variant of variants) {
  test(`softmax backward = central finite differences: ${variant.name}`, () => {
    const { g } = variant;
    const rng = new Rng(variant.name.length * 5 + 1);
    const inputs: Record<"q" | "k" | "v", Float64Array> = {
      q: random(g.batch * g.heads * g.nq * g.d, rng),
      k: random(g.batch * g.kvHeads * g.nk * g.d, rng),
      v: random(g.batch * g.kvHeads * g.nk * g.e, rng),
    };
    const m: SoftmaxMath = {
      scale: 0.9,
      causal: variant.causal,
      slopes: variant.alibi ? random(g.batch * g.heads, rng, 0.3, 0.1) : undefined,
    };
    const G = random(g.batch * g.heads * g.nq * g.e, rng);
    const loss = () => softmaxForwardF64(g, inputs.q, inputs.k, inputs.v, m).out.reduce((s, o, i) => s + o * G[i], 0);
    const grads = softmaxBackwardF64(g, inputs.q, inputs.k, inputs.v, G, m);
    const analytic = { q: grads.dq, k: grads.dk, v: grads.dv };
    const h = 1e-5;
    for (const name of ["q", "k", "v"] as const) {
      const x = inputs[name];
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
      assertClose(analytic[name], numeric, { rtol: 1e-6, atol: 1e-8 }, `d${name}`);
    }
  });
}
