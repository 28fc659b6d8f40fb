// The op-based causal agent aggregation (_op_scan.ts) against the running max/sum loops of
// _scan.ts on the same inputs: several chunks, wide score ranges (weights that underflow), and
// a state carried across calls.
import { assertClose } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { randn } from "../../../core/random.ts";
import { softmax } from "../../../core/ops.ts";
import { type Tensor, tensor } from "../../../core/tensor.ts";
import { agentScan, AgentScanState } from "../../../plugins/agent/_scan.ts";
import { agentOpScan, AgentOpScanState, CausalMasks } from "../../../plugins/agent/_op_scan.ts";

/** Tokens [from, from + count) of a [BH, ·, ·] tensor along `dim` (1 or 2), as a host tensor. */
function slice(x: Tensor, dim: 1 | 2, from: number, count: number): Tensor {
  const [a, b, c] = x.shape;
  const src = x.toFloat32Array();
  const shape = dim === 1 ? [a, count, c] : [a, b, count];
  const out = new Float32Array(shape[0] * shape[1] * shape[2]);
  let i = 0;
  for (let p = 0; p < a; p++) {
    for (let q = 0; q < shape[1]; q++) {
      for (let r = 0; r < shape[2]; r++) {
        out[i++] = dim === 1 ? src[(p * b + from + q) * c + r] : src[(p * b + q) * c + from + r];
      }
    }
  }
  return tensor(out, { shape });
}

for (const [label, std] of [["ordinary scores", 1], ["scores with std 40 (underflowing weights)", 40]] as const) {
  test(`agent op scan equals the loop scan: ${label}, 300 tokens in chunks and across calls`, () => {
    const [bh, n, e, t] = [2, 3, 4, 300];
    const scores = randn([bh, n, t], { seed: 1, std });
    using logits = randn([bh, t, n], { seed: 2 });
    const probs = softmax(logits, -1);
    const values = randn([bh, t, e], { seed: 3 });
    const expected = agentScan(
      scores.toFloat32Array(),
      probs.toFloat32Array(),
      values.toFloat32Array(),
      t,
      new AgentScanState(bh, n, e),
    );
    using masks = new CausalMasks("cpu");
    using whole = new AgentOpScanState();
    using once = agentOpScan(scores, probs, values, whole, masks);
    assertClose(once.toFloat32Array(), expected, { rtol: 1e-4, atol: 1e-5 }, "one call");
    // 7 tokens, then 1, then the rest: the state carries the prefix
    using carried = new AgentOpScanState();
    const parts = [[0, 7], [7, 1], [8, t - 8]].map(([from, count]) => {
      using s = slice(scores, 2, from, count);
      using p = slice(probs, 1, from, count);
      using v = slice(values, 1, from, count);
      return agentOpScan(s, p, v, carried, masks);
    });
    const got = new Float32Array(bh * t * e);
    let at = 0;
    for (const part of parts) {
      const len = part.shape[1];
      const a = part.toFloat32Array();
      for (let h = 0; h < bh; h++) got.set(a.subarray(h * len * e, (h + 1) * len * e), (h * t + at) * e);
      at += len;
      part.dispose();
    }
    assertClose(got, expected, { rtol: 1e-4, atol: 1e-5 }, "three calls");
  });
}
