// Causal agent attention: the naive prefix-softmax reference against the linear-time running
// max/sum scan (another algorithmic form), causality of the whole layer, numerical range.
import { assert, assertClose, assertThrows } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { ShapeError } from "../../../core/errors.ts";
import { randn } from "../../../core/random.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { agentScan, AgentScanState } from "../../../plugins/agent/_scan.ts";
import { causalAgentAttention, causalAgentLayerReference } from "../../../plugins/agent/mod.ts";

/** Runs the scan on [B, H, N, ·] inputs, feeding the tokens in the given chunk sizes. */
function scanForm(q: Tensor, k: Tensor, v: Tensor, agents: Tensor, chunks: number[]): Float32Array {
  const [b, h, nt, d] = q.shape;
  const e = v.shape[3];
  const n = agents.shape[2];
  const s = 1 / Math.sqrt(d);
  const [qa, ka, va, aa] = [q, k, v, agents].map((t) => t.toFloat32Array());
  const state = new AgentScanState(b * h, n, e);
  const out = new Float32Array(b * h * nt * e);
  let start = 0;
  for (const len of chunks) {
    const scores = new Float32Array(b * h * n * len);
    const probs = new Float32Array(b * h * len * n);
    const values = new Float32Array(b * h * len * e);
    for (let bh = 0; bh < b * h; bh++) {
      for (let t = 0; t < len; t++) {
        const row: number[] = [];
        for (let a = 0; a < n; a++) {
          let sk = 0;
          let sq = 0;
          for (let i = 0; i < d; i++) {
            sk += aa[(bh * n + a) * d + i] * ka[(bh * nt + start + t) * d + i];
            sq += qa[(bh * nt + start + t) * d + i] * aa[(bh * n + a) * d + i];
          }
          scores[(bh * n + a) * len + t] = s * sk;
          row.push(s * sq);
        }
        const m = Math.max(...row);
        const total = row.reduce((acc, x) => acc + Math.exp(x - m), 0);
        row.forEach((x, a) => probs[(bh * len + t) * n + a] = Math.exp(x - m) / total);
        for (let i = 0; i < e; i++) values[(bh * len + t) * e + i] = va[(bh * nt + start + t) * e + i];
      }
    }
    const o = agentScan(scores, probs, values, len, state);
    for (let bh = 0; bh < b * h; bh++) {
      out.set(o.subarray(bh * len * e, (bh + 1) * len * e), (bh * nt + start) * e);
    }
    start += len;
  }
  return out;
}

test("causal agent attention: naive prefix softmax equals the running max/sum scan, in any chunking", () => {
  const [b, h, nt, d, e, n] = [2, 2, 11, 4, 5, 3];
  const q = randn([b, h, nt, d], { seed: 11 });
  const k = randn([b, h, nt, d], { seed: 12 });
  const v = randn([b, h, nt, e], { seed: 13 });
  const agents = randn([b, h, n, d], { seed: 14 });
  const naive = causalAgentAttention(q, k, v, agents).toFloat32Array();
  assertClose(scanForm(q, k, v, agents, [nt]), naive, { rtol: 1e-5, atol: 1e-6 }, "one pass");
  assertClose(scanForm(q, k, v, agents, [1, 1, 4, 2, 3]), naive, { rtol: 1e-5, atol: 1e-6 }, "chunks");
  assertClose(scanForm(q, k, v, agents, Array(nt).fill(1)), naive, { rtol: 1e-5, atol: 1e-6 }, "tokens");
});

test("causal agent attention: token 0 reads v_0 exactly, and huge scores stay finite", () => {
  const q = randn([1, 1, 6, 4], { seed: 21, std: 40 });
  const k = randn([1, 1, 6, 4], { seed: 22, std: 40 });
  const v = randn([1, 1, 6, 3], { seed: 23 });
  const agents = randn([1, 1, 4, 4], { seed: 24, std: 40 });
  const naive = causalAgentAttention(q, k, v, agents).toFloat32Array();
  assert(naive.every(Number.isFinite), "naive finite");
  assertClose(naive.subarray(0, 3), v.toFloat32Array().subarray(0, 3), { rtol: 1e-6 });
  assertClose(scanForm(q, k, v, agents, [2, 4]), naive, { rtol: 1e-5, atol: 1e-6 });
});

function layerParams(c: number, n: number, kernel: number): Map<string, Tensor> {
  return new Map([
    ["qkv.weight", randn([3 * c, c], { seed: 31, std: 0.3 })],
    ["qkv.bias", randn([3 * c], { seed: 32, std: 0.1 })],
    ["agents", randn([n, c], { seed: 33 })],
    ["dwc.weight", randn([c, 1, kernel], { seed: 34, std: 0.5 })],
    ["dwc.bias", randn([c], { seed: 35, std: 0.1 })],
    ["proj.weight", randn([c, c], { seed: 36, std: 0.3 })],
    ["proj.bias", randn([c], { seed: 37, std: 0.1 })],
  ]);
}

test("causal agent layer: changing tokens after t never changes outputs ≤ t, and does change later ones", () => {
  const [b, nt, c] = [2, 9, 12];
  const params = layerParams(c, 4, 3);
  const x = randn([b, nt, c], { seed: 41 });
  const base = causalAgentLayerReference(x, params, { heads: 3 }).toArray() as number[][][];
  for (const t of [0, 3, 7]) {
    const changed = x.toFloat32Array();
    for (let bi = 0; bi < b; bi++) {
      for (let j = t + 1; j < nt; j++) {
        for (let i = 0; i < c; i++) changed[(bi * nt + j) * c + i] += 5 * Math.cos(j + i);
      }
    }
    const out = causalAgentLayerReference(tensor(changed, { shape: [b, nt, c] }), params, { heads: 3 })
      .toArray() as number[][][];
    for (let bi = 0; bi < b; bi++) {
      assertClose(out[bi].slice(0, t + 1).flat(), base[bi].slice(0, t + 1).flat(), { rtol: 0, atol: 0 }, `t ${t}`);
      const later = out[bi].slice(t + 1).flat();
      const before = base[bi].slice(t + 1).flat();
      assert(later.some((value, i) => Math.abs(value - before[i]) > 1e-3), `outputs after ${t} must change`);
    }
  }
});

test("causal agent layer: the conv sees exactly K−1 earlier values of v", () => {
  // K = 3 against K = 1 with the same newest tap and an identity proj: the outputs differ by the
  // two older taps w_0·v_{t−2} + w_1·v_{t−1}, with zeros (left padding) before the sequence.
  const c = 4;
  const p3 = layerParams(c, 2, 3);
  const p1 = new Map(p3);
  const w3 = p3.get("dwc.weight")!.toFloat32Array();
  p1.set("dwc.weight", tensor(Float32Array.from({ length: c }, (_, ch) => w3[ch * 3 + 2]), { shape: [c, 1, 1] }));
  const x = randn([1, 5, c], { seed: 51 });
  const eye = tensor(Float32Array.from({ length: c * c }, (_, i) => (i % (c + 1) === 0 ? 1 : 0)), { shape: [c, c] });
  p1.set("proj.weight", eye);
  p3.set("proj.weight", eye);
  const diff = causalAgentLayerReference(x, p3, { heads: 2 }).toFloat32Array().map((v, i) =>
    v - causalAgentLayerReference(x, p1, { heads: 2 }).toFloat32Array()[i]
  );
  const qkv = p3.get("qkv.weight")!.toFloat32Array();
  const bias = p3.get("qkv.bias")!.toFloat32Array();
  const xs = x.toFloat32Array();
  const vAt = (t: number, ch: number): number => {
    let acc = bias[2 * c + ch];
    for (let i = 0; i < c; i++) acc += qkv[(2 * c + ch) * c + i] * xs[t * c + i];
    return acc;
  };
  for (let t = 0; t < 5; t++) {
    for (let ch = 0; ch < c; ch++) {
      const expected = (t >= 2 ? w3[ch * 3] * vAt(t - 2, ch) : 0) + (t >= 1 ? w3[ch * 3 + 1] * vAt(t - 1, ch) : 0);
      assertClose([diff[t * c + ch]], [expected], { rtol: 1e-5, atol: 1e-6 }, `t ${t} ch ${ch}`);
    }
  }
});

test("causal agent attention rejects mismatched shapes and empty sequences", () => {
  const q = randn([1, 2, 4, 8]);
  assertThrows(() => causalAgentAttention(q, randn([1, 2, 5, 8]), q, randn([1, 2, 3, 8])), ShapeError, "[1, 2, 5, 8]");
  const empty = randn([1, 2, 0, 8]);
  assertThrows(() => causalAgentAttention(empty, empty, empty, randn([1, 2, 3, 8])), ShapeError, "empty");
  assertThrows(() => causalAgentLayerReference(randn([1, 4, 8]), new Map(), { heads: 3 }), Error, "heads");
});
