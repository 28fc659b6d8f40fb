// The causal forms (naive, blocked, recurrent) and the bidirectional forms agree with each other,
// with closed-form sums, with the official torch reference, and never look ahead.
import { ConfigError, DTypeError, ShapeError } from "../../../core/errors.ts";
import { randn } from "../../../core/random.ts";
import { tensor } from "../../../core/tensor.ts";
import { layerDecayRates } from "../../../plugins/lightning/decay.ts";
import {
  createLightningState,
  lightningAttention,
  lightningAttentionBidirectional,
  lightningAttentionBidirectionalNaive,
  lightningAttentionBlocked,
  lightningAttentionNaive,
  lightningStep,
} from "../../../plugins/lightning/reference.ts";
import { assertClose, assertEquals, assertRelativeError, assertThrows, relativeError } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { pick, randomQkv, readFixture } from "./_fixture.ts";

const RATES = layerDecayRates(4, 1, 3); // moderate decays, 0.125 … 0.0039

test("lightning: closed form — q = k = v = 1, λ = 1/2 gives o_t = 2 − 2^−t", () => {
  const ones = tensor(new Float32Array(6).fill(1), { shape: [1, 1, 6, 1] });
  const expected = Array.from({ length: 6 }, (_, t) => 2 - 2 ** -t);
  for (
    const out of [
      lightningAttentionNaive(ones, ones, ones, [Math.LN2]),
      lightningAttentionBlocked(ones, ones, ones, [Math.LN2], 4),
    ]
  ) {
    assertClose(out.toFloat32Array(), expected, { rtol: 1e-6 });
  }
});

test("lightning: closed form — s = 0 is plain causal linear attention (prefix sums)", () => {
  const { q, k, v } = randomQkv(1, 1, 9, 3, 2, 5);
  const [qa, ka, va] = [q.toFloat32Array(), k.toFloat32Array(), v.toFloat32Array()];
  const expected: number[] = [];
  for (let t = 0; t < 9; t++) {
    for (let x = 0; x < 2; x++) {
      let acc = 0;
      for (let j = 0; j <= t; j++) {
        let w = 0;
        for (let i = 0; i < 3; i++) w += qa[t * 3 + i] * ka[j * 3 + i];
        acc += w * va[j * 2 + x];
      }
      expected.push(acc);
    }
  }
  assertClose(lightningAttentionNaive(q, k, v, [0]).toFloat32Array(), expected, { rtol: 1e-5, atol: 1e-5 });
  assertClose(lightningAttentionBlocked(q, k, v, [0], 4).toFloat32Array(), expected, { rtol: 1e-5, atol: 1e-5 });
});

test("lightning: blocked equals naive for block sizes that do and do not divide N", () => {
  for (const n of [1, 13, 37, 64]) {
    const { q, k, v } = randomQkv(2, 4, n, 8, 6, n);
    const naive = lightningAttentionNaive(q, k, v, RATES).toFloat32Array();
    for (const block of [1, 4, 5, 16, 64, 100]) {
      const blocked = lightningAttentionBlocked(q, k, v, RATES, block).toFloat32Array();
      assertRelativeError(blocked, naive, 1e-6, `N ${n} block ${block}`);
    }
  }
});

test("lightning: recurrent decode equals naive, all at once and one token per call", () => {
  const [B, H, N, d, e] = [2, 4, 23, 8, 5];
  const { q, k, v } = randomQkv(B, H, N, d, e, 11);
  const naive = lightningAttentionNaive(q, k, v, RATES).toFloat32Array();
  const once = createLightningState(B, H, d, e);
  assertRelativeError(lightningStep(q, k, v, RATES, once).toFloat32Array(), naive, 1e-6, "one call");
  assertEquals(once.length, N);

  const state = createLightningState(B, H, d, e);
  const [qa, ka, va] = [q.toFloat32Array(), k.toFloat32Array(), v.toFloat32Array()];
  const token = (src: Float32Array, width: number, t: number) => {
    const out = new Float32Array(B * H * width);
    for (let bh = 0; bh < B * H; bh++) {
      out.set(src.subarray((bh * N + t) * width, (bh * N + t + 1) * width), bh * width);
    }
    return tensor(out, { shape: [B, H, 1, width] });
  };
  const stepped = new Float32Array(naive.length);
  for (let t = 0; t < N; t++) {
    const o = lightningStep(token(qa, d, t), token(ka, d, t), token(va, e, t), RATES, state).toFloat32Array();
    for (let bh = 0; bh < B * H; bh++) stepped.set(o.subarray(bh * e, (bh + 1) * e), (bh * N + t) * e);
  }
  assertRelativeError(stepped, naive, 1e-6, "token by token");
  assertEquals(state.length, N);
});

test("lightning: causal — changing tokens after t never changes outputs up to t", () => {
  const [N, t0] = [19, 7];
  const { q, k, v } = randomQkv(1, 2, N, 4, 3, 21);
  const base = lightningAttentionBlocked(q, k, v, RATES.slice(0, 2), 4).toFloat32Array();
  const perturb = (x: ReturnType<typeof randn>, width: number, seed: number) => {
    const values = x.toFloat32Array();
    const noise = randn([values.length], { seed }).toFloat32Array();
    for (let h = 0; h < 2; h++) {
      for (let t = t0 + 1; t < N; t++) {
        for (let c = 0; c < width; c++) values[(h * N + t) * width + c] += 3 * noise[(h * N + t) * width + c];
      }
    }
    return tensor(values, { shape: x.shape });
  };
  const changed = lightningAttentionBlocked(perturb(q, 4, 1), perturb(k, 4, 2), perturb(v, 3, 3), RATES.slice(0, 2), 4)
    .toFloat32Array();
  let laterDiffers = false;
  for (let h = 0; h < 2; h++) {
    for (let t = 0; t < N; t++) {
      for (let x = 0; x < 3; x++) {
        const i = (h * N + t) * 3 + x;
        if (t <= t0 && changed[i] !== base[i]) throw new Error(`output at t=${t} changed: ${base[i]} → ${changed[i]}`);
        if (t > t0 && Math.abs(changed[i] - base[i]) > 1e-3) laterDiffers = true;
      }
    }
  }
  if (!laterDiffers) throw new Error("perturbing later tokens changed nothing at all");
});

test("lightning: bidirectional — closed form counts the diagonal once, scan equals naive", () => {
  const ones = tensor(new Float32Array(3).fill(1), { shape: [1, 1, 3, 1] });
  // o_t = Σ_j 2^−|t−j|: 1 + ½ + ¼, ½ + 1 + ½, ¼ + ½ + 1
  assertClose(lightningAttentionBidirectionalNaive(ones, ones, ones, [Math.LN2]).toFloat32Array(), [1.75, 2, 1.75]);
  assertClose(lightningAttentionBidirectional(ones, ones, ones, [Math.LN2]).toFloat32Array(), [1.75, 2, 1.75]);
  for (const n of [1, 2, 17]) {
    const { q, k, v } = randomQkv(2, 4, n, 5, 7, 40 + n);
    const naive = lightningAttentionBidirectionalNaive(q, k, v, RATES).toFloat32Array();
    assertRelativeError(lightningAttentionBidirectional(q, k, v, RATES).toFloat32Array(), naive, 1e-6, `N ${n}`);
    assertRelativeError(lightningAttention(q, k, v, RATES, { causal: false }).toFloat32Array(), naive, 1e-6);
  }
});

test("lightning: bidirectional = causal + reversed causal − diagonal", () => {
  const [N, d, e] = [11, 4, 3];
  const { q, k, v } = randomQkv(1, 1, N, d, e, 60);
  const reverse = (x: ReturnType<typeof randn>, width: number) => {
    const a = x.toFloat32Array();
    const out = new Float32Array(a.length);
    for (let t = 0; t < N; t++) out.set(a.subarray(t * width, (t + 1) * width), (N - 1 - t) * width);
    return tensor(out, { shape: x.shape });
  };
  const fwd = lightningAttentionNaive(q, k, v, [0.3]).toFloat32Array();
  const bwd = reverse(lightningAttentionNaive(reverse(q, d), reverse(k, d), reverse(v, e), [0.3]), e).toFloat32Array();
  const [qa, ka, va] = [q.toFloat32Array(), k.toFloat32Array(), v.toFloat32Array()];
  const expected = fwd.map((f, i) => {
    const t = Math.floor(i / e);
    let w = 0;
    for (let c = 0; c < d; c++) w += qa[t * d + c] * ka[t * d + c];
    return f + bwd[i] - w * va[i];
  });
  assertClose(lightningAttentionBidirectional(q, k, v, [0.3]).toFloat32Array(), expected, { rtol: 1e-5, atol: 1e-5 });
});

test("lightning: official torch linear_attn parity (naive and blocked forms)", () => {
  const f = readFixture("functional");
  const [q, k, v, s] = ["q", "k", "v", "s"].map((key) => pick(f, key));
  const expected = pick(f, "o").toFloat32Array();
  const naive = relativeError(lightningAttentionNaive(q, k, v, s).toFloat32Array(), expected);
  const blocked = relativeError(lightningAttentionBlocked(q, k, v, s, 16).toFloat32Array(), expected);
  console.log(`official linear_attn: rel err naive ${naive.toExponential(2)}, blocked ${blocked.toExponential(2)}`);
  assertRelativeError(lightningAttentionNaive(q, k, v, s).toFloat32Array(), expected, 1e-6, "naive");
  assertRelativeError(lightningAttention(q, k, v, s).toFloat32Array(), expected, 1e-6, "blocked 64");
  assertRelativeError(lightningAttentionBlocked(q, k, v, s, 16).toFloat32Array(), expected, 1e-6, "blocked 16");
  const state = createLightningState(2, 4, 16, 16);
  assertRelativeError(lightningStep(q, k, v, s, state).toFloat32Array(), expected, 1e-6, "recurrent");
});

test("lightning: official Triton kernel agrees within its TF32 precision", () => {
  const f = readFixture("functional");
  const triton = readFixture("triton");
  const [q, k, v, s] = ["q", "k", "v", "s"].map((key) => pick(f, key));
  const err = relativeError(lightningAttentionBlocked(q, k, v, s).toFloat32Array(), pick(triton, "o").toFloat32Array());
  console.log(`official Triton lightning_attn2 forward: rel err ${err.toExponential(2)}`);
  assertRelativeError(lightningAttentionBlocked(q, k, v, s).toFloat32Array(), pick(triton, "o").toFloat32Array(), 5e-3);
});

test("lightning: outputs keep the input dtype", () => {
  const { q, k, v } = randomQkv(1, 2, 5, 4, 4, 70);
  const [qb, kb, vb] = [q, k, v].map((x) => tensor(x.toFloat32Array(), { shape: x.shape, dtype: "bf16" }));
  const out = lightningAttentionBlocked(qb, kb, vb, [0.1, 0.2], 2);
  assertEquals(out.dtype, "bf16");
  assertRelativeError(out.toFloat32Array(), lightningAttentionNaive(qb, kb, vb, [0.1, 0.2]).toFloat32Array(), 1e-2);
});

test("lightning: bad inputs throw typed errors naming the op and shapes", () => {
  const { q, k, v } = randomQkv(1, 2, 5, 4, 3, 80);
  const wrongN = randn([1, 2, 6, 3]);
  assertThrows(
    () => lightningAttentionNaive(q, k, wrongN, [0.1, 0.2]),
    ShapeError,
    "lightningAttentionNaive",
    "[1, 2, 6, 3]",
  );
  assertThrows(() => lightningAttentionBlocked(q, randn([1, 2, 5, 5]), v, [0.1, 0.2]), ShapeError, "head dim");
  assertThrows(() => lightningAttentionNaive(randn([2, 5, 4]), k, v, [0.1]), ShapeError, "[B, H, N, d]");
  assertThrows(() => lightningAttentionNaive(q, k, v, [0.1]), ShapeError, "one value per head (2)");
  assertThrows(() => lightningAttentionNaive(q, k, v, [0.1, -1]), ConfigError, "s[1]");
  assertThrows(() => lightningAttentionBlocked(q, k, v, [0.1, 0.2], 0), ConfigError, "blockSize");
  const qb = tensor(q.toFloat32Array(), { shape: q.shape, dtype: "bf16" });
  assertThrows(() => lightningAttentionNaive(qb, k, v, [0.1, 0.2]), DTypeError, "bf16");
  const state = createLightningState(1, 2, 4, 4);
  assertThrows(() => lightningStep(q, k, v, [0.1, 0.2], state), ShapeError, "lightningStep", "state is [1, 2, 4, 4]");
  assertThrows(() => createLightningState(1, 0, 4, 4), ConfigError, "heads");
});
