// Forward of the softmax reference against an independent naive formula, logsumexp, fully masked
// rows, causality, GQA ≡ MHA with repeated heads, f16/bf16, and bad input.
import { alibiSlopes } from "../../../core/alibi.ts";
import { ConfigError, DTypeError, ShapeError } from "../../../core/errors.ts";
import { randn } from "../../../core/random.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { softmaxAttention, softmaxAttentionBackward, softmaxAttentionWithLse } from "../../../plugins/softmax/mod.ts";
import { assert, assertClose, assertEquals, assertRelativeError, assertThrows } from "../../_assert.ts";
import { test } from "../../_harness.ts";

function qkv(B: number, H: number, Hkv: number, Nq: number, Nk: number, d: number, e = d, seed = 1) {
  return {
    q: randn([B, H, Nq, d], { seed }),
    k: randn([B, Hkv, Nk, d], { seed: seed + 1 }),
    v: randn([B, Hkv, Nk, e], { seed: seed + 2 }),
  };
}

/** Naive: repeat heads, full score matrix with an explicit bias/mask matrix, softmax, times V. */
function naive(q: Tensor, k: Tensor, v: Tensor, causal: boolean, slopes?: number[], scale?: number) {
  const [B, H, Nq, d] = q.shape;
  const [, Hkv, Nk] = k.shape;
  const [qa, ka, va] = [q, k, v].map((t) => t.toArray() as number[][][][]);
  const out: number[] = [];
  const lse: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / Hkv));
      for (let i = 0; i < Nq; i++) {
        const scores = ka[b][kvh].map((kj, j) => {
          const visible = !causal || j <= i + Nk - Nq;
          const dot = qa[b][h][i].reduce((s, x, c) => s + x * kj[c], 0);
          const alibi = slopes ? -slopes[b * H + h] * Math.abs(i + Nk - Nq - j) : 0;
          return visible ? (scale ?? 1 / Math.sqrt(d)) * dot + alibi : -Infinity;
        });
        const weights = scores.map(Math.exp);
        const total = weights.reduce((s, w) => s + w, 0);
        lse.push(Math.log(total));
        for (let c = 0; c < va[b][kvh][0].length; c++) {
          out.push(total === 0 ? 0 : weights.reduce((s, w, j) => s + (w / total) * va[b][kvh][j][c], 0));
        }
      }
    }
  }
  return { out, lse };
}

const variants = [
  { name: "non-causal MHA", B: 2, H: 2, Hkv: 2, Nq: 5, Nk: 5, d: 4, causal: false },
  { name: "causal Nq < Nk GQA", B: 1, H: 4, Hkv: 2, Nq: 3, Nk: 6, d: 4, causal: true },
  { name: "non-causal Nq ≠ Nk MQA, e ≠ d", B: 1, H: 3, Hkv: 1, Nq: 4, Nk: 7, d: 4, e: 6, causal: false },
  { name: "causal Nq = Nk", B: 1, H: 2, Hkv: 1, Nq: 6, Nk: 6, d: 3, causal: true },
];

for (const c of variants) {
  for (const alibi of [false, true]) {
    test(`softmax forward and lse = naive formula: ${c.name}${alibi ? ", ALiBi" : ""}`, () => {
      const { q, k, v } = qkv(c.B, c.H, c.Hkv, c.Nq, c.Nk, c.d, c.e);
      const perHead = Array.from(alibiSlopes(c.H));
      const slopes = alibi ? Array.from({ length: c.B }, () => perHead).flat() : undefined;
      const { out, lse } = softmaxAttentionWithLse(q, k, v, {
        causal: c.causal,
        alibiSlopes: alibi ? Float32Array.from(perHead) : undefined,
        scale: 0.4,
      });
      const expected = naive(q, k, v, c.causal, slopes, 0.4);
      assertEquals(out.shape, [c.B, c.H, c.Nq, c.e ?? c.d]);
      assertEquals(lse.shape, [c.B, c.H, c.Nq]);
      assertClose(out.toFloat32Array(), expected.out, { rtol: 1e-5, atol: 1e-6 });
      assertClose(lse.toFloat32Array(), expected.lse, { rtol: 1e-6, atol: 1e-6 });
    });
  }
}

test("softmax: fully masked rows (causal, Nq > Nk) output 0 with lse −∞ and get no gradient", () => {
  const { q, k, v } = qkv(1, 2, 2, 5, 3, 4);
  const { out, lse } = softmaxAttentionWithLse(q, k, v, { causal: true });
  const o = out.toArray() as number[][][][];
  const l = lse.toArray() as number[][][];
  for (let h = 0; h < 2; h++) {
    for (let i = 0; i < 2; i++) {
      assert(o[0][h][i].every((x) => x === 0), `row ${i} must be 0`);
      assertEquals(l[0][h][i], -Infinity);
    }
    assert(o[0][h][2].some((x) => x !== 0), "row 2 sees key 0");
    // row 2 sees only key 0: its output is v[0] exactly
    assertClose(o[0][h][2], (v.toArray() as number[][][][])[0][h][0], { rtol: 1e-6 });
  }
  const grads = softmaxAttentionBackward(q, k, v, randn(out.shape, { seed: 3 }), { causal: true });
  const dq = grads.dq.toArray() as number[][][][];
  for (let h = 0; h < 2; h++) for (let i = 0; i < 3; i++) assert(dq[0][h][i].every((x) => x === 0), `dq row ${i}`);
});

test("softmax causal: changing tokens after t never changes outputs at or before t", () => {
  const N = 6;
  const { q, k, v } = qkv(1, 2, 2, N, N, 4, 4, 11);
  const opts = { causal: true, alibiSlopes: Float32Array.of(0.5, 0.25) };
  const base = softmaxAttention(q, k, v, opts).toArray() as number[][][][];
  for (let t = 0; t < N - 1; t++) {
    const perturb = (x: Tensor, seed: number): Tensor => {
      const vals = x.toFloat32Array();
      const noise = randn([vals.length], { seed }).toFloat32Array();
      for (let h = 0; h < 2; h++) {
        for (let j = t + 1; j < N; j++) for (let c = 0; c < 4; c++) vals[(h * N + j) * 4 + c] += noise[j * 4 + c];
      }
      return tensor(vals, { shape: x.shape });
    };
    const changed = softmaxAttention(perturb(q, 40 + t), perturb(k, 50 + t), perturb(v, 60 + t), opts)
      .toArray() as number[][][][];
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i <= t; i++) assertEquals(changed[0][h][i], base[0][h][i], `head ${h} token ${i} after t=${t}`);
    }
    assert(JSON.stringify(changed[0][1][N - 1]) !== JSON.stringify(base[0][1][N - 1]), "later tokens must change");
  }
});

test("softmax GQA equals MHA with repeated k/v heads (forward and gradients)", () => {
  const { q, k, v } = qkv(1, 4, 2, 3, 5, 4, 4, 21);
  const repeat = (x: Tensor): Tensor => {
    const a = x.toArray() as number[][][][];
    return tensor(a.map((batch) => batch.flatMap((head) => [head, head])));
  };
  const opts = { causal: true };
  assertClose(
    softmaxAttention(q, k, v, opts).toFloat32Array(),
    softmaxAttention(q, repeat(k), repeat(v), opts).toFloat32Array(),
    { rtol: 1e-6, atol: 1e-7 },
  );
  const dOut = randn([1, 4, 3, 4], { seed: 5 });
  const g = softmaxAttentionBackward(q, k, v, dOut, opts);
  const m = softmaxAttentionBackward(q, repeat(k), repeat(v), dOut, opts);
  assertClose(g.dq.toFloat32Array(), m.dq.toFloat32Array(), { rtol: 1e-5, atol: 1e-7 });
  const pairSum = (x: Tensor) => {
    const a = (x.toArray() as number[][][][])[0];
    return [0, 1].flatMap((kv) => a[2 * kv].map((row, j) => row.map((val, c) => val + a[2 * kv + 1][j][c]))).flat();
  };
  assertClose(g.dk.toFloat32Array(), pairSum(m.dk), { rtol: 1e-5, atol: 1e-6 });
  assertClose(g.dv.toFloat32Array(), pairSum(m.dv), { rtol: 1e-5, atol: 1e-6 });
});

for (const dtype of ["f16", "bf16"] as const) {
  test(`softmax ${dtype} inputs: ${dtype} output close to the f32 result on the same values`, () => {
    const { q, k, v } = qkv(1, 2, 2, 6, 6, 8, 8, 31);
    const cast = (x: Tensor) => tensor(x.toFloat32Array(), { shape: x.shape, dtype });
    const [qh, kh, vh] = [cast(q), cast(k), cast(v)];
    const out = softmaxAttention(qh, kh, vh, { causal: true });
    assertEquals(out.dtype, dtype);
    const exact = softmaxAttention(
      tensor(qh.toFloat32Array(), { shape: q.shape }),
      tensor(kh.toFloat32Array(), { shape: k.shape }),
      tensor(vh.toFloat32Array(), { shape: v.shape }),
      { causal: true },
    );
    assertRelativeError(out.toFloat32Array(), exact.toFloat32Array(), dtype === "f16" ? 1e-3 : 8e-3);
    const grads = softmaxAttentionBackward(qh, kh, vh, cast(randn(out.shape, { seed: 2 })));
    assertEquals([grads.dq.dtype, grads.dk.dtype, grads.dv.dtype], [dtype, dtype, dtype]);
  });
}

test("softmax rejects bad input with typed errors naming the op and shapes", () => {
  const { q, k, v } = qkv(1, 4, 2, 3, 3, 4);
  assertThrows(
    () => softmaxAttention(q, randn([1, 3, 3, 4]), randn([1, 3, 3, 4])),
    ShapeError,
    "softmaxAttention",
    "multiple",
  );
  assertThrows(() => softmaxAttention(q, randn([1, 2, 3, 5]), v), ShapeError, "head dim", "[1, 2, 3, 5]");
  assertThrows(() => softmaxAttention(q, randn([1, 2, 0, 4]), randn([1, 2, 0, 4])), ShapeError, "> 0");
  assertThrows(() => softmaxAttention(q, k, randn([1, 2, 3, 4], { dtype: "bf16" })), DTypeError, "v bf16");
  assertThrows(() => softmaxAttention(q, k, v, { scale: 0 }), ConfigError, "scale");
  assertThrows(() => softmaxAttention(q, k, v, { alibiSlopes: new Float32Array(2) }), ShapeError, "alibiSlopes");
  assertThrows(() => softmaxAttentionBackward(q, k, v, randn([1, 4, 3, 4], { dtype: "f16" })), DTypeError, "dOut");
});
